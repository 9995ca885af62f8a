import { IdempotencyEvent } from '@nest-idempotency/core';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** Outcomes that mean "a client sent a request it had sent before". */
const DUPLICATE_OUTCOMES = new Set(['replayed', 'conflict']);
/** Outcomes of requests that carried a usable key (the denominator of both rates). */
const KEYED_OUTCOMES = new Set([
  'executed',
  'replayed',
  'conflict',
  'mismatch',
  'store_error',
  'fail_open',
  'released',
  'not_stored',
]);

/**
 * Turns the library's events into the SRE figures of docs/protocol.md §11: outcome counters per route, the
 * acquire-latency histogram, and the duplicate request and key collision rates as gauges per route.
 */
export class IdempotencyMetrics {
  private readonly requests: Counter<'route' | 'outcome'>;
  private readonly acquireSeconds: Histogram<'route'>;
  private readonly deferredSettlements: Counter<'route' | 'action' | 'result'>;
  private readonly tallies = new Map<string, { keyed: number; duplicates: number; mismatches: number }>();

  constructor(registry: Registry) {
    this.requests = new Counter({
      name: 'idempotency_requests_total',
      help: 'Requests to @Idempotent() routes, by outcome',
      labelNames: ['route', 'outcome'],
      registers: [registry],
    });
    this.acquireSeconds = new Histogram({
      name: 'idempotency_acquire_duration_seconds',
      help: 'Duration of the idempotency store acquire round trip',
      labelNames: ['route'],
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers: [registry],
    });
    this.deferredSettlements = new Counter({
      name: 'idempotency_deferred_settlements_total',
      help: 'Releases and completions that failed and were made again later, by how they ended',
      labelNames: ['route', 'action', 'result'],
      registers: [registry],
    });
    const tallies = this.tallies;
    new Gauge({
      name: 'idempotency_duplicate_request_ratio',
      help: '(replayed + conflict) / keyed requests, since start',
      labelNames: ['route'],
      registers: [registry],
      collect() {
        for (const [route, tally] of tallies) this.set({ route }, tally.keyed ? tally.duplicates / tally.keyed : 0);
      },
    });
    new Gauge({
      name: 'idempotency_key_collision_ratio',
      help: 'mismatch (422) / keyed requests, since start: keys reused for other requests',
      labelNames: ['route'],
      registers: [registry],
      collect() {
        for (const [route, tally] of tallies) this.set({ route }, tally.keyed ? tally.mismatches / tally.keyed : 0);
      },
    });
  }

  /** The `events` hook given to `IdempotencyModule`. */
  record(event: IdempotencyEvent): void {
    // A store call made again after its request was answered is not a request: counted apart, so the
    // request counters and both rates keep meaning "requests".
    if (event.deferred) {
      this.deferredSettlements.inc({
        route: event.route,
        action: event.deferred.action,
        result: event.deferred.result,
      });
      return;
    }
    this.requests.inc({ route: event.route, outcome: event.outcome });
    if (event.acquireMs !== undefined) this.acquireSeconds.observe({ route: event.route }, event.acquireMs / 1000);
    if (!KEYED_OUTCOMES.has(event.outcome)) return;
    let tally = this.tallies.get(event.route);
    if (!tally) this.tallies.set(event.route, (tally = { keyed: 0, duplicates: 0, mismatches: 0 }));
    tally.keyed++;
    if (DUPLICATE_OUTCOMES.has(event.outcome)) tally.duplicates++;
    if (event.outcome === 'mismatch') tally.mismatches++;
  }
}
