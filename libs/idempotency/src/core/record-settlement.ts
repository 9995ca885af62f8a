import { Logger } from '@nestjs/common';
import { performance } from 'node:perf_hooks';
import { CompletedRecordCaches } from './completed-record-cache';
import { IdempotencyEventEmitter } from './event-emitter';
import { IdempotentCall, IdempotentExecution, IdempotentSettlement } from './idempotent-call';
import { describeError } from '../util/describe-error';
import { ResponseCodec } from './response-codec';
import { StoreFailures } from './store-failures';
import { serialise } from './stored-response';
import { inStoreSpan } from './telemetry/store-span';

/**
 * Settles a call's record once its work has run: completes it with the stored form of the result (fenced by the
 * call's token), or releases it so a retry runs again. The work cannot be undone, so a store call that fails here
 * never fails the caller: it is made again in the background (`StoreFailures`).
 */
export class RecordSettlement {
  constructor(
    private readonly events: IdempotencyEventEmitter,
    private readonly failures: StoreFailures,
    private readonly logger: Logger,
    /** The `localCache` option's caches, if on. */
    private readonly localCaches: CompletedRecordCaches | undefined,
    private readonly codec: ResponseCodec,
  ) {}

  /** Stores the result for replay (when `keep` says so and it fits), else releases the record. */
  async finish(
    call: IdempotentCall,
    token: string,
    acquireMs: number,
    settlement: IdempotentSettlement,
    cacheKey?: string,
  ): Promise<IdempotentExecution> {
    const { keep } = settlement;
    if (!('store' in keep)) return this.release(call, token, settlement, keep.release, keep.reason, acquireMs);
    const serialised = serialise(keep.store, call.options.maxResponseBytes);
    if (typeof serialised !== 'string') {
      return this.release(call, token, settlement, 'not_stored', serialised.reason, acquireMs);
    }
    await this.complete(call, token, acquireMs, serialised, cacheKey);
    return { kind: 'executed', settlement };
  }

  /** Deletes the record (token-checked) so a retry runs again, and says why in the log and events. */
  async release(
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
      await inStoreSpan(this.events.tracing, call, 'release', () => options.store.release(id, token));
      this.failures.succeeded(options.store, started);
    } catch (error) {
      this.failures.failed(call, 'release', 'release_deferred', describeError(error));
      this.failures.defer(call, 'release', () => options.store.release(id, token), {
        retryWhenNotOwned: false,
        bytes: 0,
      });
    }
    if (outcome === 'not_stored') {
      this.logger.warn(`${route}: response sent but not stored for replay (${reason}); the key was released`);
    }
    this.events.emit({ outcome, route, scope: id.scope, acquireMs, reason }, call);
    return { kind: 'executed', settlement };
  }

  /** Keeps a record this process completed, until `ttl` from just before the completion at the latest. */
  cacheCompleted(call: IdempotentCall, cacheKey: string, response: string, completing: number): void {
    const { fingerprint, options } = call;
    this.localCaches?.of(options.store)?.set(cacheKey, { fingerprint, response, expiresAt: completing + options.ttl });
  }

  private async complete(
    call: IdempotentCall,
    token: string,
    acquireMs: number,
    serialised: string,
    cacheKey: string | undefined,
  ): Promise<void> {
    const { id, route, options } = call;
    // The store keeps the encoded form; the local cache the plain JSON, so its hits decode nothing.
    const encoded = this.codec.encode(serialised, id);
    // Taken before the call, so a cached copy never outlives the record, whose TTL starts within the call.
    const completing = Date.now();
    const started = performance.now();
    try {
      const completed = await inStoreSpan(this.events.tracing, call, 'complete', () =>
        options.store.complete(id, token, encoded, options.ttl),
      );
      this.failures.succeeded(options.store, started);
      if (completed) {
        if (cacheKey !== undefined) this.cacheCompleted(call, cacheKey, serialised, completing);
        this.events.emitOutcome('executed', call, acquireMs);
      } else {
        this.logger.warn(
          `${route}: the lease expired while the request ran and another request took it over; this result was not stored`,
        );
        this.events.emit({ route, scope: id.scope, acquireMs, outcome: 'executed', leaseLost: true }, call);
      }
    } catch (error) {
      // The work is done and cannot be undone: send its result, and store it later, so that a retry gets
      // the replay (meanwhile a 409) rather than a 409 for the whole lease and then a second run.
      this.failures.failed(call, 'complete', 'complete_deferred', describeError(error));
      this.events.emit(
        {
          route,
          scope: id.scope,
          acquireMs,
          outcome: 'store_error',
          reason: `complete failed: ${describeError(error)}`,
        },
        call,
      );
      this.failures.defer(call, 'complete', () => options.store.complete(id, token, encoded, options.ttl), {
        retryWhenNotOwned: false,
        bytes: encoded.length * 2,
      });
    }
  }
}
