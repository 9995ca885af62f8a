import { Injectable } from '@nestjs/common';
import { HealthIndicatorService } from '@nestjs/terminus';
import { randomUUID } from 'node:crypto';
import { IdempotencyStore } from '@nest-idempotency/core';

/** Healthy when the idempotency store takes and releases a record: the path every keyed write needs. */
@Injectable()
export class IdempotencyStoreHealthIndicator {
  constructor(
    private readonly store: IdempotencyStore,
    private readonly health: HealthIndicatorService,
  ) {}

  async check(key = 'idempotencyStore') {
    const indicator = this.health.check(key);
    const id = { namespace: 'health', scope: 'health', key: randomUUID() };
    const token = randomUUID();
    try {
      await this.store.acquire(id, { fingerprint: 'health', token, leaseMs: 5_000, ttlMs: 5_000 });
      await this.store.release(id, token);
      return indicator.up();
    } catch (error) {
      return indicator.down({ message: error instanceof Error ? error.message : String(error) });
    }
  }
}
