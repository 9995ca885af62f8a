import { INestApplication } from '@nestjs/common';
import { MemoryIdempotencyStore } from '@nest-idempotency/core';
import { App } from 'supertest/types.js';
import { describeIdempotentOrders, startApp, unique } from './idempotent-orders.js';

describe('Idempotent orders on the memory store (e2e)', () => {
  let app: INestApplication<App>;

  beforeAll(async () => {
    app = await startApp({ store: new MemoryIdempotencyStore(), keyPrefix: unique('nest12-starter') });
  });

  afterAll(async () => {
    await app?.close();
  });

  describeIdempotentOrders('memory', () => app);
});
