import type { Meter } from '@opentelemetry/api';
import { IdempotencyEvent, IdempotencyOutcome } from '@nest-idempotency/core';

/** Outcomes that mean "a client sent a request it had sent before". */
const DUPLICATE_OUTCOMES = new Set<IdempotencyOutcome>(['replayed', 'conflict']);
/** Outcomes of requests that carried a usable key (the denominator of both rates). */
const KEYED_OUTCOMES = new Set<IdempotencyOutcome>([
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
 * The two rates of docs/protocol.md §11 that the library's own instruments leave to the application, as gauges per
 * route since start: the duplicate request ratio and the key collision ratio. The counters and the acquire
 * latency come from the library itself (`idempotency.*`, docs/operations.md).
 */
export class IdempotencyMetrics {
  private readonly tallies = new Map<string, { keyed: number; duplicates: number; mismatches: number }>();

  constructor(meter: Meter) {
    meter
      .createObservableGauge('idempotency.duplicate_request_ratio', {
        description: '(replayed + conflict) / keyed requests, since start',
        unit: '1',
      })
      .addCallback((result) => {
        for (const [route, tally] of this.tallies) {
          result.observe(tally.keyed ? tally.duplicates / tally.keyed : 0, { 'idempotency.route': route });
        }
      });
    meter
      .createObservableGauge('idempotency.key_collision_ratio', {
        description: 'mismatch (422) / keyed requests, since start: keys reused for other requests',
        unit: '1',
      })
      .addCallback((result) => {
        for (const [route, tally] of this.tallies) {
          result.observe(tally.keyed ? tally.mismatches / tally.keyed : 0, { 'idempotency.route': route });
        }
      });
  }

  /** The `events` hook given to `IdempotencyModule`. */
  record(event: IdempotencyEvent): void {
    // A store call made again after its request was answered (`deferred_settlement`) is not a request, and an
    // unusable key is not a keyed one: both rates keep meaning "of the keyed requests".
    if (!KEYED_OUTCOMES.has(event.outcome)) return;
    let tally = this.tallies.get(event.route);
    if (!tally) this.tallies.set(event.route, (tally = { keyed: 0, duplicates: 0, mismatches: 0 }));
    tally.keyed++;
    if (DUPLICATE_OUTCOMES.has(event.outcome)) tally.duplicates++;
    if (event.outcome === 'mismatch') tally.mismatches++;
  }
}
