/** Name of the library's meter and tracer. */
export const IDEMPOTENCY_TELEMETRY_SCOPE = '@nest-idempotency/core';

/**
 * The module's `telemetry` option: the providers to report to, each defaulting to the global one. An SDK's
 * `MeterProvider` and `TracerProvider` (from `@opentelemetry/api`) fit; they are typed here by what the library
 * calls on them, so that its typings compile without `@opentelemetry/api`, an optional peer dependency.
 */
export interface IdempotencyTelemetryOptions {
  meterProvider?: { getMeter(name: string, version?: string, options?: object): unknown };
  tracerProvider?: { getTracer(name: string, version?: string, options?: object): unknown };
}
