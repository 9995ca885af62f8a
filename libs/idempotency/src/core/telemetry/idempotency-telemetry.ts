import type { MeterProvider, TracerProvider } from '@opentelemetry/api';
import { CallMetrics } from './call-metrics';
import { CallTracing } from './call-tracing';
import { loadOpenTelemetryApi } from './opentelemetry-api';
import { IDEMPOTENCY_TELEMETRY_SCOPE, IdempotencyTelemetryOptions } from '../../options/telemetry-options';

/** What the library reports to: metrics, traces, either or neither. */
export interface IdempotencyTelemetry {
  metrics?: CallMetrics;
  tracing?: CallTracing;
}

/**
 * Works out, once when the module starts, what the library reports to: the providers given, else the global ones
 * registered by then (an SDK started before `NestFactory.create`). A provider that is OpenTelemetry's no-op one
 * (no SDK) is left out, so that without an SDK a call builds no attributes and starts no span; undefined when
 * there is nothing to report to (`false`, no `@opentelemetry/api`, no SDK).
 */
export function startTelemetry(
  option: IdempotencyTelemetryOptions | false | undefined,
): IdempotencyTelemetry | undefined {
  if (option === false) return undefined;
  const api = loadOpenTelemetryApi();
  if (!api) {
    if (option?.meterProvider || option?.tracerProvider) {
      throw new Error(
        'Idempotency option "telemetry" names a provider, but @opentelemetry/api is not installed: install it (npm i @opentelemetry/api)',
      );
    }
    return undefined;
  }
  const meterProvider = (option?.meterProvider as MeterProvider | undefined) ?? api.metrics.getMeterProvider();
  const meter = meterProvider.getMeter(IDEMPOTENCY_TELEMETRY_SCOPE);
  // The API hands out one shared no-op meter (and, behind its proxy, one no-op tracer provider) when no SDK is set.
  const metrics = meter === api.createNoopMeter() ? undefined : new CallMetrics(meter);
  const tracerProvider = (option?.tracerProvider as TracerProvider | undefined) ?? api.trace.getTracerProvider();
  const noTracer =
    tracerProvider instanceof api.ProxyTracerProvider &&
    tracerProvider.getDelegate() === new api.ProxyTracerProvider().getDelegate();
  const tracing = noTracer ? undefined : new CallTracing(api, tracerProvider.getTracer(IDEMPOTENCY_TELEMETRY_SCOPE));
  return metrics || tracing ? { metrics, tracing } : undefined;
}
