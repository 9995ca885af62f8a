import { PrometheusExporter, PrometheusSerializer } from '@opentelemetry/exporter-prometheus';
import { MeterProvider } from '@opentelemetry/sdk-metrics';

/**
 * The library's instruments as docs/operations.md lists them (the contract between the library and the
 * operations docs): name, kind and unit, which is all that decides the Prometheus name.
 */
const INSTRUMENTS = [
  { name: 'idempotency.requests', kind: 'counter', unit: '{request}' },
  { name: 'idempotency.acquire.duration', kind: 'histogram', unit: 's' },
  { name: 'idempotency.key_mismatches', kind: 'counter', unit: '{request}' },
  { name: 'idempotency.store.errors', kind: 'counter', unit: '{error}' },
  { name: 'idempotency.deferred_settlements', kind: 'counter', unit: '{settlement}' },
  { name: 'idempotency.deferred_settlements.pending', kind: 'updowncounter', unit: '{settlement}' },
  { name: 'idempotency.local_cache.hits', kind: 'counter', unit: '{request}' },
] as const;

/** The sample app's own gauges (apps/payments), and the series Prometheus itself writes for every target. */
export const OTHER_METRIC_NAMES = ['idempotency_duplicate_request_ratio', 'idempotency_key_collision_ratio', 'up'];

/**
 * The Prometheus series names the instruments get, as @opentelemetry/exporter-prometheus prints them (a
 * histogram's `_bucket`, `_sum` and `_count` each), found by exporting one value of each through it, so the
 * rules and the dashboard are checked against the exporter, not against anyone's idea of its naming.
 */
export async function exportedMetricNames(): Promise<string[]> {
  const exporter = new PrometheusExporter({ preventServerStart: true });
  const provider = new MeterProvider({ readers: [exporter] });
  const meter = provider.getMeter('@nest-idempotency/core');
  for (const { name, kind, unit } of INSTRUMENTS) {
    if (kind === 'counter') meter.createCounter(name, { unit }).add(1);
    else if (kind === 'histogram') meter.createHistogram(name, { unit }).record(0.001);
    else meter.createObservableUpDownCounter(name, { unit }).addCallback((result) => result.observe(1));
  }
  const { resourceMetrics } = await exporter.collect();
  await provider.shutdown();
  const text = new PrometheusSerializer().serialize(resourceMetrics);
  return [...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)]
    .filter(([, name]) => name !== 'target_info')
    .flatMap(([, name, type]) => (type === 'histogram' ? ['_bucket', '_sum', '_count'].map((s) => name + s) : [name]));
}
