import { Inject, Injectable, Logger, OnModuleDestroy, Optional } from '@nestjs/common';
import { createHash, randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { DeferredSettlementQueue } from './deferred-settlements';
import { canonicalize } from './fingerprint';
import { CompletedRecord, CompletedRecordCaches, completedRecordCacheKey } from './completed-record-cache';
import { IdempotencyEvent, IdempotencyOutcome } from './idempotency.events';
import { retryAfterSeconds } from './retry-after';
import { serialise } from './stored-response';
import { storableScope } from './stored-scope';
import { StoreOutageReports } from './store-outage-report';
import {
  IdempotencyInProgressError,
  IdempotencyKeyInvalidError,
  IdempotencyKeyMismatchError,
  IdempotencyKeyMissingError,
  IdempotencyStoreUnavailableError,
} from './idempotency.errors';
import { parseIdempotencyKey } from './idempotency-key';
import { IDEMPOTENCY_MODULE_OPTIONS } from '../idempotency.module-definition';
import {
  IdempotencyModuleOptions,
  IdempotentRouteOptions,
  ResolvedIdempotencyOptions,
} from '../idempotency-options.interface';
import { resolveIdempotencyOptions } from '../idempotency-options';
import {
  IdempotencyAcquireRequest,
  IdempotencyAcquireResult,
  IdempotencyRecordId,
  IdempotencyStore,
  TransactionalIdempotencyStore,
} from '../stores/idempotency-store';
import { isNotSent } from '../stores/idempotency-store-unreachable.error';

/** What the protected work produced, and what of it to keep. */
export interface IdempotentSettlement {
  /** Handed back to the caller: a value to return or an error to rethrow. */
  result: { value: unknown } | { error: unknown };
  /**
   * `store`: the JSON-serialisable form a replay is built from. `release`: the work failed (5xx, non-HTTP
   * error), so the record is deleted and a retry runs again. `not_stored`: the result cannot be replayed
   * (a stream, ...), so the record is released and a warning logged. `rollBack`: the work did not happen after
   * all (a message its handler rejected or requeued), so the transactional mode rolls its writes back too.
   */
  keep: { store: unknown } | { release: 'released' | 'not_stored'; reason: string; rollBack?: boolean };
}

/** One protected call, as the interceptor or `run()` describes it to the protocol. */
export interface IdempotentCall {
  id: IdempotencyRecordId;
  fingerprint: string;
  /** Name in events and logs: `POST /payments`, or the operation's name. */
  route: string;
  options: ResolvedIdempotencyOptions;
  /** Runs the work once this call owns the record. It should settle rather than throw. */
  work: () => Promise<IdempotentSettlement>;
}

/** How a call ended: the work ran here (protected, or unprotected by `failOpen`), or a stored result came back. */
export type IdempotentExecution =
  | { kind: 'executed'; settlement: IdempotentSettlement }
  | { kind: 'unprotected'; settlement: IdempotentSettlement }
  | { kind: 'replayed'; stored: unknown };

/** Options of `IdempotencyService.run()`. */
export interface IdempotentRunOptions extends Pick<
  IdempotentRouteOptions,
  'store' | 'ttl' | 'lockTimeout' | 'onConflict' | 'failOpen' | 'keyPrefix' | 'maxResponseBytes'
> {
  /** Whose key it is (a tenant, a producer); records of two scopes never meet. Default none. */
  scope?: string;
  /** What the key stands for (the message's payload, say): the same key with another value → mismatch error. */
  fingerprint?: unknown;
  /** Name in events and logs. Default `run`. */
  name?: string;
}

/** Thrown inside a transaction to roll it back; never escapes the service. */
const ROLLBACK = Symbol('rollback');

const FIRST_POLL_MS = 10;
const MAX_POLL_MS = 200;

/**
 * The idempotency protocol (docs/protocol.md) in one place: acquire, run once, complete or release, replay,
 * conflict and mismatch, fail closed. The HTTP interceptor and `run()` for messages and jobs both use it;
 * it knows nothing of HTTP, and nothing of how a store keeps its records.
 */
@Injectable()
export class IdempotencyService implements OnModuleDestroy {
  private readonly logger = new Logger('Idempotency');
  /** Releases and completions that failed, made again in the background so no key stays blocked. */
  private readonly deferred = new DeferredSettlementQueue();
  /** Store failures as one line per outage and interval, not one per request. */
  private readonly outages = new StoreOutageReports(this.logger);
  /** The module's options with every default filled in. */
  readonly defaults: ResolvedIdempotencyOptions;
  /** The `localCache` option: completed records this process saw complete, one cache per store; off by default. */
  private readonly localCaches: CompletedRecordCaches | undefined;

  constructor(
    @Optional() @Inject(IDEMPOTENCY_MODULE_OPTIONS) private readonly moduleOptions: IdempotencyModuleOptions = {},
  ) {
    this.defaults = resolveIdempotencyOptions(moduleOptions ?? {});
    this.localCaches = moduleOptions?.localCache ? new CompletedRecordCaches(moduleOptions.localCache) : undefined;
  }

  /** Makes one last attempt at every deferred release and completion (bounded), then stops retrying. */
  async onModuleDestroy(): Promise<void> {
    await this.deferred.stop();
    this.outages.stop();
  }

  /** The module defaults overridden by a route's (or a call's) options, validated. */
  resolve(overrides?: IdempotentRouteOptions): ResolvedIdempotencyOptions {
    return overrides ? resolveIdempotencyOptions(overrides, this.defaults) : this.defaults;
  }

  /**
   * Runs `work` at most once per `key` while its record lives, for message consumers and jobs. A repeat
   * returns the first run's result (as JSON: results must be JSON-serialisable); a concurrent repeat throws
   * `IdempotencyInProgressError` (or waits, with `onConflict: { wait }`); a failure is not stored, so
   * the next delivery runs again.
   */
  async run<T>(key: string, work: () => T | Promise<T>, options: IdempotentRunOptions = {}): Promise<T> {
    const name = options.name ?? 'run';
    const scope = options.scope ?? '';
    const parsed = parseIdempotencyKey(key);
    if (parsed.status !== 'valid') {
      this.emit({ outcome: parsed.status === 'missing' ? 'missing_key' : 'invalid_key', route: name, scope });
      throw parsed.status === 'missing'
        ? new IdempotencyKeyMissingError()
        : new IdempotencyKeyInvalidError(parsed.reason);
    }
    const { scope: _scope, fingerprint: _fingerprint, name: _name, ...overrides } = options;
    const resolved = this.resolve(overrides);
    const execution = await this.execute({
      id: { namespace: resolved.keyPrefix, scope, key: parsed.key },
      fingerprint: options.fingerprint === undefined ? '' : sha256(canonicalize(options.fingerprint)),
      route: name,
      options: resolved,
      work: async () => {
        try {
          const value = await work();
          return { result: { value }, keep: { store: { value } } };
        } catch (error) {
          return { result: { error }, keep: { release: 'released', reason: describe(error) } };
        }
      },
    });
    if (execution.kind === 'replayed') return (execution.stored as { value: T }).value;
    const { result } = execution.settlement;
    if ('error' in result) throw result.error;
    return result.value as T;
  }

  /**
   * The protocol for one call. Throws `IdempotencyKeyMismatchError`, `IdempotencyInProgressError` and
   * `IdempotencyStoreUnavailableError`; everything else is in the result.
   */
  async execute(original: IdempotentCall): Promise<IdempotentExecution> {
    const storedScope = storableScope(original.id.scope);
    const call =
      storedScope === original.id.scope ? original : { ...original, id: { ...original.id, scope: storedScope } };
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
        acquired = await options.store.acquire(id, request);
      } catch (error) {
        return this.onStoreFailure(call, error, performance.now() - started, request.token);
      }
      // The latency figure is the first round trip: waiting for another request is not the store's time.
      acquireMs ??= performance.now() - started;
      this.outages.succeeded(options.store, started);

      if (acquired.state === 'acquired') {
        if (options.transactional) return this.runOwnedInTransaction(call, request.token, acquireMs, cacheKey);
        return this.finish(call, request.token, acquireMs, await this.settle(call), cacheKey);
      }
      if (acquired.fingerprint !== fingerprint) {
        this.emitOutcome('mismatch', call, acquireMs);
        throw new IdempotencyKeyMismatchError();
      }
      if (acquired.state === 'completed') {
        let stored: unknown;
        try {
          stored = JSON.parse(acquired.response);
        } catch (error) {
          return this.onStoreFailure(
            call,
            new Error(`stored response is not valid JSON: ${describe(error)}`),
            acquireMs,
          );
        }
        this.emitOutcome('replayed', call, acquireMs);
        return { kind: 'replayed', stored };
      }
      const remainingWait = waitUntil - Date.now();
      if (remainingWait <= 0) {
        this.emitOutcome('conflict', call, acquireMs);
        throw new IdempotencyInProgressError(retryAfterSeconds(options.retryAfter, acquired.retryAfterMs));
      }
      await sleep(Math.min(pollMs, remainingWait));
      pollMs = Math.min(pollMs * 2, MAX_POLL_MS);
    }
  }

  /** Sends an event to the `events` hook; a throwing listener is logged, never allowed to fail a request. */
  emit(event: IdempotencyEvent): void {
    const listener = this.moduleOptions?.events;
    if (!listener) return;
    try {
      listener(event);
    } catch (error) {
      this.logger.error(`The idempotency events listener threw: ${describe(error)}`);
    }
  }

  /** The common event (no reason, no flags), built only when someone listens. */
  private emitOutcome(outcome: IdempotencyOutcome, call: IdempotentCall, acquireMs: number | undefined): void {
    if (!this.moduleOptions?.events) return;
    this.emit({ outcome, route: call.route, scope: call.id.scope, acquireMs });
  }

  /**
   * A completed record this process saw complete, served without asking the store: the same answers as the
   * store's (a replay, or 422 for another fingerprint). Its event has no `acquireMs`: no acquire was made.
   */
  private answerFromCache(call: IdempotentCall, cached: CompletedRecord): IdempotentExecution {
    if (cached.fingerprint !== call.fingerprint) {
      this.emitOutcome('mismatch', call, undefined);
      throw new IdempotencyKeyMismatchError();
    }
    // Parsed per hit, as a store replay is, so no caller ever holds an object another caller mutated.
    const stored: unknown = JSON.parse(cached.response);
    if (this.moduleOptions?.events) {
      this.emit({ outcome: 'replayed', route: call.route, scope: call.id.scope, fromLocalCache: true });
    }
    return { kind: 'replayed', stored };
  }

  /**
   * The transactional mode: the work runs inside the store's database transaction and a successful result
   * completes the record in that same transaction, so the writes and the record commit together or not at
   * all. A failure rolls the work back and is then stored (a 4xx) or released as usual, outside it.
   */
  private async runOwnedInTransaction(
    call: IdempotentCall,
    token: string,
    acquireMs: number,
    cacheKey: string | undefined,
  ): Promise<IdempotentExecution> {
    const { id, route, options } = call;
    const store = options.store as IdempotencyStore & TransactionalIdempotencyStore;
    let settlement: IdempotentSettlement | undefined;
    // Assigned inside the transaction's callback, which TypeScript's narrowing does not follow.
    let outcome = 'rolled_back' as 'committed' | 'not_stored' | 'lease_lost' | 'rolled_back';
    let reason = '';
    let stored = '';
    let completing = 0;
    try {
      await store.runInTransaction(async (transaction) => {
        settlement = await this.settle(call);
        const { result, keep } = settlement;
        if ('error' in result || ('rollBack' in keep && keep.rollBack)) throw ROLLBACK;
        if (!('store' in keep)) {
          // A success that cannot be replayed (a stream) still commits; only its record is released.
          [outcome, reason] = ['not_stored', keep.reason];
          return;
        }
        const serialised = serialise(keep.store, options.maxResponseBytes);
        if (typeof serialised !== 'string') {
          [outcome, reason] = ['not_stored', serialised.reason];
          return;
        }
        completing = Date.now();
        if (!(await transaction.complete(id, token, serialised, options.ttl))) {
          // Another request took the lease over and runs the work itself: these writes must not commit.
          outcome = 'lease_lost';
          throw ROLLBACK;
        }
        outcome = 'committed';
        stored = serialised;
      });
    } catch (error) {
      if (error !== ROLLBACK) {
        // The transaction itself failed (it could not begin, the commit was refused, the connection was lost):
        // nothing committed, so the handler's success must not be sent. The record is released for a retry.
        const unavailable = new IdempotencyStoreUnavailableError(
          retryAfterSeconds(options.retryAfter, options.lockTimeout),
        );
        this.outages.failed(store, route, settlement ? 'rolled_back' : 'refused', describe(error));
        const reason = `transaction failed: ${describe(error)}`;
        const failed: IdempotentSettlement = { result: { error: unavailable }, keep: { release: 'released', reason } };
        const execution = await this.releaseRecord(call, token, failed, 'released', reason, acquireMs);
        // It could not begin, so the work never ran: a refusal, as a failed acquire is (a message goes back to
        // its queue; nothing of the handler's is there to settle it).
        if (settlement === undefined) throw unavailable;
        return execution;
      }
    }
    const event = { route, scope: id.scope, acquireMs };
    switch (outcome) {
      case 'committed': {
        if (cacheKey !== undefined) this.cacheCompleted(call, cacheKey, stored, completing);
        this.emit({ ...event, outcome: 'executed' });
        return { kind: 'executed', settlement: settlement! };
      }
      case 'not_stored':
        return this.releaseRecord(call, token, settlement!, 'not_stored', reason, acquireMs);
      case 'lease_lost': {
        this.logger.warn(
          `${route}: the lease expired while the request ran and another request took it over; its writes were rolled back`,
        );
        this.emit({ ...event, outcome: 'conflict', leaseLost: true });
        // The new owner's lease is unknown here; the hint is never longer than a whole one.
        const conflict: IdempotentSettlement = {
          result: {
            error: new IdempotencyInProgressError(retryAfterSeconds(options.retryAfter, options.lockTimeout)),
          },
          keep: { release: 'released', reason: 'lease lost' },
        };
        return { kind: 'executed', settlement: conflict };
      }
      case 'rolled_back':
        // The work failed and its writes are gone; store (a 4xx) or release it as outside the transactional mode.
        return this.finish(call, token, acquireMs, settlement!);
    }
  }

  private async finish(
    call: IdempotentCall,
    token: string,
    acquireMs: number,
    settlement: IdempotentSettlement,
    cacheKey?: string,
  ): Promise<IdempotentExecution> {
    const { id, route, options } = call;
    const { keep } = settlement;

    if ('store' in keep) {
      const serialised = serialise(keep.store, options.maxResponseBytes);
      if (typeof serialised === 'string') {
        // Taken before the call, so a cached copy never outlives the record, whose TTL starts within the call.
        const completing = Date.now();
        const started = performance.now();
        try {
          const completed = await options.store.complete(id, token, serialised, options.ttl);
          this.outages.succeeded(options.store, started);
          if (completed) {
            if (cacheKey !== undefined) this.cacheCompleted(call, cacheKey, serialised, completing);
            this.emitOutcome('executed', call, acquireMs);
          } else {
            this.logger.warn(
              `${route}: the lease expired while the request ran and another request took it over; this result was not stored`,
            );
            this.emit({ route, scope: id.scope, acquireMs, outcome: 'executed', leaseLost: true });
          }
        } catch (error) {
          // The work is done and cannot be undone: send its result, and store it later, so that a retry gets
          // the replay (meanwhile a 409) rather than a 409 for the whole lease and then a second run.
          this.outages.failed(options.store, route, 'complete_deferred', describe(error));
          this.emit({
            route,
            scope: id.scope,
            acquireMs,
            outcome: 'store_error',
            reason: `complete failed: ${describe(error)}`,
          });
          this.defer(call, 'complete', () => options.store.complete(id, token, serialised, options.ttl), {
            retryWhenNotOwned: false,
            bytes: serialised.length * 2,
          });
        }
        return { kind: 'executed', settlement };
      }
      return this.releaseRecord(call, token, settlement, 'not_stored', serialised.reason, acquireMs);
    }
    return this.releaseRecord(call, token, settlement, keep.release, keep.reason, acquireMs);
  }

  /** Keeps a record this process completed, until `ttl` from just before the completion at the latest. */
  private cacheCompleted(call: IdempotentCall, cacheKey: string, response: string, completing: number): void {
    const { fingerprint, options } = call;
    this.localCaches?.of(options.store)?.set(cacheKey, { fingerprint, response, expiresAt: completing + options.ttl });
  }

  private async releaseRecord(
    call: IdempotentCall,
    token: string,
    settlement: IdempotentSettlement,
    outcome: 'released' | 'not_stored',
    reason: string,
    acquireMs: number,
  ): Promise<IdempotentExecution> {
    const { id, route, options } = call;
    const started = performance.now();
    try {
      await options.store.release(id, token);
      this.outages.succeeded(options.store, started);
    } catch (error) {
      this.outages.failed(options.store, route, 'release_deferred', describe(error));
      this.defer(call, 'release', () => options.store.release(id, token), { retryWhenNotOwned: false, bytes: 0 });
    }
    if (outcome === 'not_stored') {
      this.logger.warn(`${route}: response sent but not stored for replay (${reason}); the key was released`);
    }
    this.emit({ outcome, route, scope: id.scope, acquireMs, reason });
    return { kind: 'executed', settlement };
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
    const reason = describe(error);
    const event = { route, scope: id.scope, acquireMs, reason };
    if (acquireToken !== undefined && !isNotSent(error)) {
      this.defer(call, 'release', () => options.store.release(id, acquireToken), { retryWhenNotOwned: true, bytes: 0 });
    }
    if (!options.failOpen) {
      this.outages.failed(options.store, route, 'refused', reason);
      this.emit({ ...event, outcome: 'store_error' });
      throw new IdempotencyStoreUnavailableError(retryAfterSeconds(options.retryAfter, options.lockTimeout));
    }
    this.outages.failed(options.store, route, 'unprotected', reason);
    this.emit({ ...event, outcome: 'fail_open' });
    return { kind: 'unprotected', settlement: await this.settle(call) };
  }

  /** Queues a failed release or completion to be made again, and reports how it ends in the log and events. */
  private defer(
    call: IdempotentCall,
    action: 'release' | 'complete',
    attempt: () => Promise<boolean>,
    { retryWhenNotOwned, bytes }: { retryWhenNotOwned: boolean; bytes: number },
  ): void {
    const { id, route, options } = call;
    this.deferred.schedule({
      attempt,
      retryWhenNotOwned,
      bytes,
      deadline: Date.now() + options.lockTimeout,
      onSettled: (result, attempts, lastError) => {
        const reason = `deferred ${action}: ${result} after ${attempts} attempt(s)${lastError === undefined ? '' : `; last error: ${describe(lastError)}`}`;
        this.outages.deferredSettled(options.store, route, action, result, reason);
        this.emit({
          outcome: 'deferred_settlement',
          route,
          scope: id.scope,
          reason,
          deferred: { action, result, attempts },
        });
      },
    });
  }

  private async settle(call: IdempotentCall): Promise<IdempotentSettlement> {
    try {
      return await call.work();
    } catch (error) {
      return failedWork(error);
    }
  }
}

/** What work that threw (rather than settled) leaves: its error, and a released record so a retry runs again. */
function failedWork(error: unknown): IdempotentSettlement {
  return { result: { error }, keep: { release: 'released', reason: describe(error) } };
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
