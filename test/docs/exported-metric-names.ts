import { PrometheusExporter, PrometheusSerializer } from '@opentelemetry/exporter-prometheus';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import type { Counter, Histogram, Meter } from '@opentelemetry/api';
import { CallMetrics } from '@nest-idempotency/core/core/telemetry/call-metrics';

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
  // The library's own instruments, each given one value as it is created, so that a renamed or added instrument
  // is checked without anyone copying the list.
  const meter = provider.getMeter('@nest-idempotency/core');
  const recordingOne: Meter = Object.create(meter);
  recordingOne.createCounter = (name, options) => withValue(meter.createCounter(name, options));
  recordingOne.createHistogram = (name, options) => withValue(meter.createHistogram(name, options));
  // The pending-settlements gauge is created when the first queue of deferred settlements registers.
  new CallMetrics(recordingOne).observePending(() => 1);
  const { resourceMetrics } = await exporter.collect();
  await provider.shutdown();
  const text = new PrometheusSerializer().serialize(resourceMetrics);
  return [...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)]
    .filter(([, name]) => name !== 'target_info')
    .flatMap(([, name, type]) => (type === 'histogram' ? ['_bucket', '_sum', '_count'].map((s) => name + s) : [name]));
}

function withValue<T extends Counter | Histogram>(instrument: T): T {
  if ('add' in instrument) instrument.add(1);
  else instrument.record(0.001);
  return instrument;
}
