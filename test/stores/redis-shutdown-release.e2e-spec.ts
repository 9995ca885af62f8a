import { Controller, HttpException, Injectable, OnModuleDestroy, Post } from '@nestjs/common';
import Redis from 'ioredis';
import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { IdempotencyEvent, IdempotencyModule, Idempotent } from '@nest-idempotency/core';
import { RedisIdempotencyStore } from '@nest-idempotency/core/redis';
import { HTTP_ADAPTERS, RunningApp, startHttpApp } from '../support/http-app';
import { RedisServerProcess, startRedisServer } from '../support/redis-server';
import { describeWithServices } from '../support/services';

@Controller('orders')
class OrdersController {
  /** Runs inside the next request before it fails with a 502. */
  static beforeFailure: (() => Promise<unknown>) | undefined;
  static runs = 0;

  @Post()
  @Idempotent()
  async create() {
    const run = ++OrdersController.runs;
    const beforeFailure = OrdersController.beforeFailure;
    if (!beforeFailure) return { run };
    OrdersController.beforeFailure = undefined;
    await beforeFailure();
    throw new HttpException('upstream broke', 502);
  }
}

/** Lifts the refusal when the app starts shutting down: in the root module, whose hooks Nest runs first. */
@Injectable()
class WritesAllowedAtShutdown implements OnModuleDestroy {
  static admin: Redis | undefined;

  async onModuleDestroy(): Promise<void> {
    await WritesAllowedAtShutdown.admin?.config('SET', 'min-replicas-to-write', '0');
  }
}

/**
 * Issue 18, item 10: a release still pending when the application closes is made before the store closes its
 * connection. Redis refuses every script that writes while `min-replicas-to-write` finds no replica, so the release
 * after a 502 fails and is retried in the background, failing too, until the app closes: the refusal is lifted only
 * then, so only the service's last attempt, during shutdown, can succeed. A new app on the same Redis (a restart)
 * must then run the retry, not answer 409 until the 30 s lease ends.
 */
describeWithServices(['redis'], 'a release pending when the app shuts down', () => {
  let server: RedisServerProcess;
  let admin: Redis;
  let apps: RunningApp[] = [];
  const events: IdempotencyEvent[] = [];

  const start = async () => {
    const app = await startHttpApp(
      {
        imports: [
          IdempotencyModule.forRoot({
            store: new RedisIdempotencyStore(server.url),
            events: (event) => events.push(event),
          }),
        ],
        controllers: [OrdersController],
        providers: [WritesAllowedAtShutdown],
      },
      HTTP_ADAPTERS[0][1],
    );
    apps.push(app);
    return app;
  };
  const refuseWrites = () => admin.config('SET', 'min-replicas-to-write', '1');

  beforeAll(async () => {
    server = await startRedisServer();
    admin = new Redis(server.url);
    WritesAllowedAtShutdown.admin = admin;
  });
  afterAll(async () => {
    await Promise.allSettled(apps.map((app) => app.close()));
    admin?.disconnect();
    await server?.dispose();
  });

  it('is made before the store closes, so a restarted app runs the retry at once', async () => {
    const key = randomUUID();
    const first = await start();
    OrdersController.beforeFailure = refuseWrites;
    expect((await request(first.url).post('/orders').set('Idempotency-Key', key).send({})).status).toBe(502);
    const settled = () => events.filter((event) => event.outcome === 'deferred_settlement');
    // The release is still pending: Redis refuses it until the shutdown begins.
    expect(settled()).toEqual([]);
    await first.close();
    apps = apps.filter((app) => app !== first);

    const restarted = await start();
    const retry = await request(restarted.url).post('/orders').set('Idempotency-Key', key).send({});
    expect({ status: retry.status, body: retry.body }).toEqual({ status: 201, body: { run: 2 } });
    expect(settled()).toEqual([
      expect.objectContaining({ deferred: expect.objectContaining({ action: 'release', result: 'settled' }) }),
    ]);
  });
});
