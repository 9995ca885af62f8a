import { Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { CompletedRecord, CompletedRecordCaches, completedRecordCacheKey } from './completed-record-cache';
import { IdempotencyEventEmitter } from './event-emitter';
import {
  IdempotencyInProgressError,
  IdempotencyKeyMismatchError,
  IdempotencyStoreUnavailableError,
} from './idempotency.errors';
import { IdempotentCall, IdempotentExecution, settle } from './idempotent-call';
import { describeError } from '../util/describe-error';
import { RecordSettlement } from './record-settlement';
import { ResponseCodec } from './response-codec';
import { retryAfterSeconds } from './retry-after';
import { StoreFailures } from './store-failures';
import { readStoredResponse } from './stored-response';
import { storableScope } from './stored-scope';
import { inStoreSpan } from './telemetry/store-span';
import { TransactionalExecution } from './transactional-execution';
import { IdempotencyAcquireRequest, IdempotencyAcquireResult } from '../stores/idempotency-store';
import { isNotSent } from '../stores/idempotency-store-unreachable.error';

const FIRST_POLL_MS = 10;
const MAX_POLL_MS = 200;

/**
 * The protocol for one call (docs/protocol.md): acquire in one round trip, run the work once, complete or release,
 * replay, conflict and mismatch, fail closed. It knows no transport and nothing of how a store keeps its records;
 * `IdempotencyService` fronts it.
 */
export class IdempotencyExecutor {
  private readonly failures: StoreFailures;
  private readonly records: RecordSettlement;
  private readonly transactional: TransactionalExecution;

  constructor(
    private readonly events: IdempotencyEventEmitter,
    logger: Logger,
    /** The `localCache` option's caches: completed records this process saw complete, one cache per store. */
    private readonly localCaches: CompletedRecordCaches | undefined,
    /** What a record holds: the serialised response, compressed and sealed as the module's options say. */
    private readonly codec: ResponseCodec,
  ) {
    this.failures = new StoreFailures(logger, events);
    this.records = new RecordSettlement(events, this.failures, logger, localCaches, codec);
    this.transactional = new TransactionalExecution(this.records, this.failures, events, logger, codec);
  }

  /**
   * Runs `original` under the protocol. Throws `IdempotencyKeyMismatchError`, `IdempotencyInProgressError` and
   * `IdempotencyStoreUnavailableError`; everything else is in the result.
   */
  execute(original: IdempotentCall): Promise<IdempotentExecution> {
    const storedScope = storableScope(original.id.scope);
    const call =
      storedScope === original.id.scope ? original : { ...original, id: { ...original.id, scope: storedScope } };
    const tracing = this.events.tracing;
    return tracing ? tracing.traced(call, () => this.protocol(call)) : this.protocol(call);
  }

  /** Makes one last attempt at every deferred release and completion (bounded), then stops retrying. */
  stop(): Promise<void> {
    return this.failures.stop();
  }

  private async protocol(call: IdempotentCall): Promise<IdempotentExecution> {
    const { id, fingerprint, options } = call;
    let cacheKey: string | undefined;
    if (this.localCaches) {
      cacheKey = completedRecordCacheKey(id);
      const cached = this.localCaches.of(options.store).get(cacheKey);
      if (cached) return this.answerFromCache(call, cached);
    }
    const request: IdempotencyAcquireRequest = {
      fingerprint,
      token: randomUUID(),
      leaseMs: options.lockTimeout,
      ttlMs: options.ttl,
      durableWithWork: options.transactional,
    };
    const waitUntil = options.onConflict === 'reject' ? 0 : Date.now() + options.onConflict.wait;
    let pollMs = FIRST_POLL_MS;
    let acquireMs: number | undefined;

    for (;;) {
      let acquired: IdempotencyAcquireResult;
      const started = performance.now();
      try {
        acquired = await inStoreSpan(this.events.tracing, call, 'acquire', () => options.store.acquire(id, request));
      } catch (error) {
        return this.onStoreFailure(call, error, performance.now() - started, request.token);
      }
      // The latency figure is the first round trip: waiting for another request is not the store's time.
      acquireMs ??= performance.now() - started;
      this.failures.succeeded(options.store, started);

      if (acquired.state === 'acquired') {
        if (options.transactional) return this.transactional.run(call, request.token, acquireMs, cacheKey);
        return this.records.finish(call, request.token, acquireMs, await settle(call), cacheKey);
      }
      if (acquired.fingerprint !== fingerprint) {
        this.events.emitOutcome('mismatch', call, acquireMs);
        throw new IdempotencyKeyMismatchError();
      }
      if (acquired.state === 'completed') {
        let stored: unknown;
        try {
          stored = readStoredResponse(acquired.response, this.codec, id, options.maxResponseBytes);
        } catch (unreadable) {
          // The record proves the work completed: whatever `failOpen` says, running it again would do it twice.
          this.refuse(call, describeError(unreadable), acquireMs);
        }
        this.events.emitOutcome('replayed', call, acquireMs);
        return { kind: 'replayed', stored };
      }
      const remainingWait = waitUntil - Date.now();
      if (remainingWait <= 0) {
        this.events.emitOutcome('conflict', call, acquireMs);
        throw new IdempotencyInProgressError(retryAfterSeconds(options.retryAfter, acquired.retryAfterMs));
      }
      await sleep(Math.min(pollMs, remainingWait));
      pollMs = Math.min(pollMs * 2, MAX_POLL_MS);
    }
  }

  /**
   * A completed record this process saw complete, served without asking the store: the same answers as the
   * store's (a replay, or 422 for another fingerprint). Its event has no `acquireMs`: no acquire was made.
   */
  private answerFromCache(call: IdempotentCall, cached: CompletedRecord): IdempotentExecution {
    if (cached.fingerprint !== call.fingerprint) {
      this.events.emitOutcome('mismatch', call, undefined);
      throw new IdempotencyKeyMismatchError();
    }
    // Parsed per hit, as a store replay is, so no caller ever holds an object another caller mutated.
    const stored: unknown = JSON.parse(cached.response);
    if (this.events.listening) {
      this.events.emit({ outcome: 'replayed', route: call.route, scope: call.id.scope, fromLocalCache: true }, call);
    }
    return { kind: 'replayed', stored };
  }

  /**
   * The store failed. `acquireToken` is given when the failed call was an acquire: unless the store says the call
   * never reached it (`IdempotencyStoreUnreachableError`), it may still run it (a paused Redis runs the script when
   * it resumes), so a record owned by that token is released later, and the retry that the 503 invites is not
   * blocked for a whole lease.
   */
  private async onStoreFailure(
    call: IdempotentCall,
    error: unknown,
    acquireMs: number,
    acquireToken?: string,
  ): Promise<IdempotentExecution> {
    const { route, id, options } = call;
    const reason = describeError(error);
    if (acquireToken !== undefined && !isNotSent(error)) {
      this.failures.defer(call, 'release', () => options.store.release(id, acquireToken), {
        retryWhenNotOwned: true,
        bytes: 0,
      });
    }
    if (!options.failOpen) this.refuse(call, reason, acquireMs);
    this.failures.failed(call, 'acquire', 'unprotected', reason);
    this.events.emit({ route, scope: id.scope, acquireMs, reason, outcome: 'fail_open' }, call);
    return { kind: 'unprotected', settlement: await settle(call) };
  }

  /** Answers 503 for a store failure (or a record that cannot be read), counted into the store's outage report. */
  private refuse(call: IdempotentCall, reason: string, acquireMs: number): never {
    const { route, id, options } = call;
    this.failures.failed(call, 'acquire', 'refused', reason);
    this.events.emit({ route, scope: id.scope, acquireMs, reason, outcome: 'store_error' }, call);
    throw new IdempotencyStoreUnavailableError(retryAfterSeconds(options.retryAfter, options.lockTimeout));
  }
}
