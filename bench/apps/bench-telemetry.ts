/*
 * BENCH_TELEMETRY for the trivial app: the OpenTelemetry SDK registered globally before Nest starts, as an app's
 * tracing bootstrap file would, so the library picks it up and the bench measures what its instruments cost.
 *
 *   metrics  a MeterProvider read by the Prometheus exporter (no server of its own; nothing scrapes it during the
 *            run, so the figure is the recording cost, which is what every request pays)
 *   traces   metrics, plus a tracer provider whose spans go through a BatchSpanProcessor to an exporter that
 *            drops them (the export's network cost is the collector's, not ours), with AsyncLocalStorage context
 *
 * Required lazily: the Nest 12 variants never set it, and bench/nest12 does not install the SDK.
 */
import type { ExportResult } from '@opentelemetry/core';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-base';

export type BenchTelemetry = 'off' | 'metrics' | 'traces';

/** Registers the SDK the setting names; returns what shuts it down. */
export function startBenchTelemetry(setting: string | undefined): () => Promise<void> {
  const mode = (setting || 'off') as BenchTelemetry;
  if (!['off', 'metrics', 'traces'].includes(mode)) throw new Error(`unknown BENCH_TELEMETRY ${setting}`);
  if (mode === 'off') return async () => {};
  /* eslint-disable @typescript-eslint/no-require-imports */
  const api = require('@opentelemetry/api') as typeof import('@opentelemetry/api');
  const { MeterProvider } = require('@opentelemetry/sdk-metrics') as typeof import('@opentelemetry/sdk-metrics');
  const { PrometheusExporter } =
    require('@opentelemetry/exporter-prometheus') as typeof import('@opentelemetry/exporter-prometheus');
  const meterProvider = new MeterProvider({ readers: [new PrometheusExporter({ preventServerStart: true })] });
  api.metrics.setGlobalMeterProvider(meterProvider);
  const shutdowns: Array<() => Promise<void>> = [() => meterProvider.shutdown()];
  if (mode === 'traces') {
    const { BasicTracerProvider, BatchSpanProcessor } =
      require('@opentelemetry/sdk-trace-base') as typeof import('@opentelemetry/sdk-trace-base');
    const { AsyncLocalStorageContextManager } =
      require('@opentelemetry/context-async-hooks') as typeof import('@opentelemetry/context-async-hooks');
    /* eslint-enable @typescript-eslint/no-require-imports */
    api.context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    const tracerProvider = new BasicTracerProvider({
      spanProcessors: [new BatchSpanProcessor(new DroppingSpanExporter())],
    });
    api.trace.setGlobalTracerProvider(tracerProvider);
    shutdowns.push(() => tracerProvider.shutdown());
  }
  return async () => {
    for (const shutdown of shutdowns) await shutdown();
  };
}

/** Takes every batch and drops it: the SDK's own work (building, batching, handing off spans) is all measured. */
class DroppingSpanExporter implements SpanExporter {
  export(_spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    done({ code: 0 });
  }
  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}
