import type { Meter, ObservableResult } from '@opentelemetry/api';

/** The deferred-settlement queues counted on each meter, and the one callback that sums them. */
const queuesByMeter = new WeakMap<Meter, Set<() => number>>();

/**
 * Counts a queue of deferred settlements into `idempotency.deferred_settlements.pending` on `meter`, until the
 * returned stop. One instrument and one callback per meter, summing every queue on it: modules sharing a
 * MeterProvider (two apps in one process) would otherwise each observe the same series from a callback of their own,
 * the SDK keeps only the last one's value, and a closed module's callback would go on observing 0.
 */
export function observePendingSettlements(meter: Meter, size: () => number): () => void {
  let queues = queuesByMeter.get(meter);
  if (!queues) {
    const counted = (queues = new Set());
    queuesByMeter.set(meter, counted);
    meter
      .createObservableUpDownCounter('idempotency.deferred_settlements.pending', {
        description: 'Releases and completions waiting to be made again now',
        unit: '{settlement}',
      })
      .addCallback((result: ObservableResult) => {
        let count = 0;
        for (const queueSize of counted) count += queueSize();
        result.observe(count);
      });
  }
  queues.add(size);
  return () => queues.delete(size);
}
