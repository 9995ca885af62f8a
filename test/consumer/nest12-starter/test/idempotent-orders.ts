/*
 * What every store must do for the orders route, through the public entry points only: the starter's e2e setup
 * (Test.createTestingModule, createNestApplication, supertest), on a real server, with the store the caller gives.
 */
import { randomBytes } from 'node:crypto';
import { INestApplication } from '@nestjs/common';
import { Test, TestingModule } from '@nestjs/testing';
import request from 'supertest';
import { App } from 'supertest/types.js';
import { AppModule, AppOptions } from './../src/app.module.js';
import { OrdersService } from './../src/orders.service.js';

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
export const POSTGRES_URL = process.env.POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/** A name no other run uses: a key, a key prefix, a database. */
export function unique(prefix: string): string {
  return `${prefix}-${randomBytes(6).toString('hex')}`;
}

/** The app on the given store, listening on an ephemeral port of 127.0.0.1. */
export async function startApp(options: AppOptions): Promise<INestApplication<App>> {
  const moduleFixture: TestingModule = await Test.createTestingModule({
    imports: [AppModule.forRoot(options)],
  }).compile();

  const app = moduleFixture.createNestApplication<INestApplication<App>>({ logger: ['error', 'warn'] });
  await app.listen(0, '127.0.0.1');
  return app;
}

export function postOrder(app: INestApplication<App>, key: string, item: string) {
  return request(app.getHttpServer()).post('/orders').set('Idempotency-Key', key).send({ item });
}

/** The protocol's answers on one app: replay, 422, one run for concurrent duplicates (docs/protocol.md). */
export function describeIdempotentOrders(storeName: string, getApp: () => INestApplication<App>): void {
  describe(`POST /orders on the ${storeName} store`, () => {
    const orders = () => getApp().get(OrdersService);

    it('replays the same key and body: the same status and body, Idempotent-Replayed: true, no second run', async () => {
      const key = unique('replay');
      const before = orders().created;

      const first = await postOrder(getApp(), key, 'book').expect(201);
      expect(first.headers['idempotent-replayed']).toBeUndefined();
      expect(first.body).toEqual({ order: before + 1, item: 'book' });

      const again = await postOrder(getApp(), key, 'book').expect(201);
      expect(again.headers['idempotent-replayed']).toBe('true');
      expect(again.body).toEqual(first.body);
      expect(orders().created).toBe(before + 1);
    });

    it('refuses the same key with another body (422) and does not run the handler', async () => {
      const key = unique('mismatch');
      await postOrder(getApp(), key, 'book').expect(201);
      const created = orders().created;

      const changed = await postOrder(getApp(), key, 'lamp').expect(422);
      expect(changed.headers['idempotent-replayed']).toBeUndefined();
      expect(orders().created).toBe(created);
    });

    it('runs concurrent identical requests once: the others get 409 with Retry-After while it runs', async () => {
      const key = unique('concurrent');
      const before = orders().created;
      const release = orders().hold();
      const settled: number[] = [];
      const calls = Array.from({ length: 5 }, () =>
        postOrder(getApp(), key, 'pen').then((response) => {
          settled.push(response.status);
          return response;
        }),
      );
      try {
        // The first request is held in the handler; the four others are answered meanwhile.
        await vi.waitFor(() => expect(settled).toHaveLength(4), { timeout: 3_000 });
      } finally {
        release();
      }
      const responses = await Promise.all(calls);

      expect(responses.map((response) => response.status).sort()).toEqual([201, 409, 409, 409, 409]);
      for (const conflict of responses.filter((response) => response.status === 409)) {
        expect(conflict.headers['retry-after']).toMatch(/^\d+$/);
      }
      expect(orders().created).toBe(before + 1);
      const replay = await postOrder(getApp(), key, 'pen').expect(201);
      expect(replay.headers['idempotent-replayed']).toBe('true');
      expect(replay.body).toEqual(responses.find((response) => response.status === 201)?.body);
    });
  });
}
