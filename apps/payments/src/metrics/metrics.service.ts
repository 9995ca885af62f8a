import { Injectable, OnApplicationShutdown } from '@nestjs/common';
import { PrometheusExporter, PrometheusSerializer } from '@opentelemetry/exporter-prometheus';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { IdempotencyMetrics } from './idempotency-metrics';
import { observeProcessMetrics } from './process-metrics';

/** What Prometheus expects of a text scrape. */
const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/**
 * The app's OpenTelemetry meter provider, read by a Prometheus exporter that starts no server of its own: `GET
 * /metrics` serves its text. The idempotency library reports its instruments here (its `telemetry` option); the
 * app adds the two idempotency rates and a few process figures.
 */
@Injectable()
export class MetricsService implements OnApplicationShutdown {
  private readonly exporter = new PrometheusExporter({ preventServerStart: true });
  private readonly serializer = new PrometheusSerializer();
  readonly meterProvider = new MeterProvider({
    resource: resourceFromAttributes({ 'service.name': 'payments' }),
    readers: [this.exporter],
  });
  readonly idempotency: IdempotencyMetrics;

  constructor() {
    const meter = this.meterProvider.getMeter('payments');
    this.idempotency = new IdempotencyMetrics(meter);
    observeProcessMetrics(meter);
  }

  /** The exposition text and its content type. */
  async scrape(): Promise<{ contentType: string; body: string }> {
    const { resourceMetrics } = await this.exporter.collect();
    return { contentType: PROMETHEUS_CONTENT_TYPE, body: this.serializer.serialize(resourceMetrics) };
  }

  onApplicationShutdown(): Promise<void> {
    return this.meterProvider.shutdown();
  }
}
