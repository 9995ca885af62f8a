import type { Counter, Histogram, Meter } from '@opentelemetry/api';
import { IdempotencyEvent } from '../../options/idempotency.events';
import { StoreFailureEffect } from '../store-outage-report';
import { callAttributes } from './call-attributes';
import { CallSource, StoreOperation } from './call-source';
import { observePendingSettlements } from './pending-settlements-gauge';

/** Bucket bounds of `idempotency.acquire.duration`, in seconds: a local Redis answers in 0.1–1 ms, a WAN store in 10+. */
const ACQUIRE_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];

/**
 * The library's OpenTelemetry instruments (docs/operations.md, Metrics), and the one place that turns a call's
 * outcome and a store's failure into them.
 */
export class CallMetrics {
  private readonly requests: Counter;
  private readonly acquireDuration: Histogram;
  private readonly keyMismatches: Counter;
  private readonly storeErrors: Counter;
  private readonly deferredSettlements: Counter;
  private readonly localCacheHits: Counter;

  constructor(private readonly meter: Meter) {
    this.requests = meter.createCounter('idempotency.requests', {
      description: 'Calls guarded by the idempotency layer, by outcome',
      unit: '{request}',
    });
    this.acquireDuration = meter.createHistogram('idempotency.acquire.duration', {
      description: "Duration of a call's first acquire round trip to the idempotency store",
      unit: 's',
      advice: { explicitBucketBoundaries: ACQUIRE_BUCKETS },
    });
    this.keyMismatches = meter.createCounter('idempotency.key_mismatches', {
      description: 'Calls whose key was used before for another request (422)',
      unit: '{request}',
    });
    this.storeErrors = meter.createCounter('idempotency.store.errors', {
      description: 'Idempotency store calls that failed, by operation and by what it cost the call',
      unit: '{error}',
    });
    this.deferredSettlements = meter.createCounter('idempotency.deferred_settlements', {
      description: 'Releases and completions that failed and were made again later, by how they ended',
      unit: '{settlement}',
    });
    this.localCacheHits = meter.createCounter('idempotency.local_cache.hits', {
      description: 'Replays answered from the localCache without asking the store',
      unit: '{request}',
    });
  }

  /** Counts a queue of deferred settlements into `idempotency.deferred_settlements.pending`, until the returned stop. */
  observePending(size: () => number): () => void {
    return observePendingSettlements(this.meter, size);
  }

  /** Records what became of a call (or, for `deferred_settlement`, of a store call made again later). */
  outcome(event: IdempotencyEvent, source: CallSource): void {
    const attributes = callAttributes(source);
    if (event.deferred) {
      this.deferredSettlements.add(1, {
        ...attributes,
        'idempotency.action': event.deferred.action,
        'idempotency.result': event.deferred.result,
      });
      return;
    }
    this.requests.add(1, { ...attributes, 'idempotency.outcome': event.outcome });
    if (event.acquireMs !== undefined) this.acquireDuration.record(event.acquireMs / 1000, attributes);
    if (event.outcome === 'mismatch') this.keyMismatches.add(1, attributes);
    if (event.fromLocalCache) this.localCacheHits.add(1, attributes);
  }

  /** Records a failed store call and what it cost the call. */
  storeFailed(source: CallSource, operation: StoreOperation, effect: StoreFailureEffect): void {
    this.storeErrors.add(1, {
      ...callAttributes(source),
      'idempotency.operation': operation,
      'idempotency.effect': effect,
    });
  }
}
