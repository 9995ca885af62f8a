import { setTimeout as sleep } from 'node:timers/promises';
import { Body, Controller, INestApplication, Post } from '@nestjs/common';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import request from 'supertest';
import { Idempotent, IdempotencyModule } from '@nest-idempotency/core';
import { RedisIdempotencyStore } from '@nest-idempotency/core/redis';
import { RedisServerProcess, startRedisServer } from '../support/redis-server';

@Controller('orders')
class OrdersController {
  calls = 0;

  @Post()
  @Idempotent()
  create(@Body() body: { item: string }) {
    this.calls++;
    return { order: this.calls, item: body.item };
  }
}

const adapters = [
  ['Express', () => undefined],
  ['Fastify', () => new FastifyAdapter()],
] as const;

describe.each(adapters)('A Redis outage behind @Idempotent() on %s', (adapterName, createAdapter) => {
  let server: RedisServerProcess;
  let app: INestApplication;
  let controller: OrdersController;

  beforeAll(async () => {
    server = await startRedisServer();
    const moduleRef = await Test.createTestingModule({
      imports: [
        IdempotencyModule.forRoot({ store: new RedisIdempotencyStore(server.url), keyPrefix: `outage-${adapterName}` }),
      ],
      controllers: [OrdersController],
    }).compile();
    const adapter = createAdapter();
    // The 503s log errors by design; keep the test output to what fails.
    app = adapter
      ? moduleRef.createNestApplication(adapter, { logger: false })
      : moduleRef.createNestApplication({ logger: false });
    await app.init();
    if (adapter) await adapter.getInstance().ready();
    controller = app.get(OrdersController);
  }, 30_000);
  afterAll(async () => {
    await app?.close();
    await server?.dispose();
  }, 30_000);

  const post = (key: string) =>
    request(app.getHttpServer()).post('/orders').set('Idempotency-Key', key).send({ item: 'book' });

  it.each(['SIGKILL', 'SIGTERM'] as const)(
    'answers 503 without running the handler while Redis is down (%s), and recovers without a restart',
    async (signal) => {
      const before = controller.calls;
      const first = await post(`before-${signal}`);
      expect(first.status).toBe(201);
      expect(first.body).toEqual({ order: before + 1, item: 'book' });
      const replay = await post(`before-${signal}`);
      expect(replay.status).toBe(201);
      expect(replay.headers['idempotent-replayed']).toBe('true');
      expect(controller.calls).toBe(before + 1);

      await server.stop(signal);

      for (const key of [`during-${signal}`, `before-${signal}`]) {
        const started = Date.now();
        const refused = await post(key);
        const elapsed = Date.now() - started;
        expect(refused.status).toBe(503);
        expect(refused.body).toMatchObject({ statusCode: 503, error: 'Service Unavailable' });
        // The store waits at most commandTimeout (1000 ms) for the connection to come back.
        expect(elapsed).toBeLessThan(2_500);
      }
      expect(controller.calls).toBe(before + 1);

      await server.start();

      // The client reconnects by itself (ioredis backs off up to 2 s between attempts); bounded wait.
      const deadline = Date.now() + 15_000;
      let retried = await post(`during-${signal}`);
      while (retried.status === 503 && Date.now() < deadline) {
        await sleep(100);
        retried = await post(`during-${signal}`);
      }
      // The key refused during the outage runs now: its refused attempts left nothing behind in Redis.
      expect(retried.status).toBe(201);
      expect(retried.headers['idempotent-replayed']).toBeUndefined();
      expect(controller.calls).toBe(before + 2);

      const replayed = await post(`during-${signal}`);
      expect(replayed.status).toBe(201);
      expect(replayed.headers['idempotent-replayed']).toBe('true');
      expect(replayed.body).toEqual(retried.body);
      expect(controller.calls).toBe(before + 2);
    },
    30_000,
  );
});
