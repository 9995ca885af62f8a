import { Injectable } from '@nestjs/common';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { IdempotencyMetrics } from './idempotency-metrics';

/** The app's Prometheus registry: process metrics plus the idempotency figures. */
@Injectable()
export class MetricsService {
  readonly registry = new Registry();
  readonly idempotency = new IdempotencyMetrics(this.registry);

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }

  /** The exposition text and its content type. */
  async scrape(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
