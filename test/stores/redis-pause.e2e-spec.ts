import { Body, Controller, HttpException, Post } from '@nestjs/common';
import Redis from 'ioredis';
import { setTimeout as sleep } from 'node:timers/promises';
import request from 'supertest';
import { IdempotencyEvent, IdempotencyModule, Idempotent } from '@nest-idempotency/core';
import { RedisIdempotencyStore } from '@nest-idempotency/core/redis';
import { HTTP_ADAPTERS, RunningApp, startHttpApp } from '../support/http-app';
import { RedisServerProcess, startRedisServer } from '../support/redis-server';
import { TcpProxy } from '../support/tcp-proxy';

/** Handler runs per route, over both instances. */
const runs = new Map<string, number>();
const hit = (route: string) => {
  runs.set(route, (runs.get(route) ?? 0) + 1);
  return runs.get(route)!;
};

@Controller('orders')
class OrdersController {
  /** Runs once inside the next `failing` request before it throws its 502 (the test cuts the link there). */
  static beforeFailure: (() => Promise<void>) | undefined;

  @Post()
  @Idempotent()
  create(@Body() body: unknown) {
    return { run: hit('create'), body };
  }

  @Post('failing')
  @Idempotent()
  async failing() {
    const run = hit('failing');
    const beforeFailure = OrdersController.beforeFailure;
    if (!beforeFailure) return { run };
    OrdersController.beforeFailure = undefined;
    await beforeFailure();
    throw new HttpException('upstream broke', 502);
  }
}

/**
 * No key stays blocked after a 503, against a real Redis: two app instances (Express and Fastify) share one redis-server of
 * this suite's own. Instance A reaches it through a proxy that can cut its link; B directly.
 * `CLIENT PAUSE 1500 WRITE` makes A's acquire time out (503 after 1 s) while Redis runs the script when the
 * pause ends; the record that script writes must not block the retry for the 30 s lease.
 */
describe('a Redis that pauses writes, behind two instances', () => {
  let server: RedisServerProcess;
  let proxy: TcpProxy;
  let admin: Redis;
  let a: RunningApp;
  let b: RunningApp;
  const events: IdempotencyEvent[] = [];
  let seq = 0;
  const newKey = () => `pause-${Date.now()}-${++seq}`;

  beforeAll(async () => {
    server = await startRedisServer();
    proxy = new TcpProxy(server.address);
    await proxy.start();
    admin = new Redis(server.url);
    const instance = (url: string, name: string, adapter: (typeof HTTP_ADAPTERS)[number][1]) =>
      startHttpApp(
        {
          imports: [
            IdempotencyModule.forRoot({
              store: new RedisIdempotencyStore(url),
              keyPrefix: 'pause',
              events: (event) => events.push({ ...event, route: `${name} ${event.route}` }),
            }),
          ],
          controllers: [OrdersController],
        },
        adapter,
      );
    a = await instance(`redis://127.0.0.1:${proxy.port}`, 'A', HTTP_ADAPTERS[0][1]);
    b = await instance(server.url, 'B', HTTP_ADAPTERS[1][1]);
    // Load the scripts on both connections first, so the paused call is the script itself.
    for (const app of [a, b])
      expect((await request(app.url).post('/orders').set('Idempotency-Key', newKey()).send({})).status).toBe(201);
  }, 30_000);
  afterAll(async () => {
    // The proxy goes first: resetting a link whose QUIT is still closing it (A's store quits on close) leaves
    // Node spinning on that socket (node 20), and the test process never exits.
    await proxy?.close();
    await Promise.allSettled([a?.close(), b?.close()]);
    admin?.disconnect();
    await server?.dispose();
  }, 30_000);
  beforeEach(() => {
    runs.clear();
    events.length = 0;
  });

  const post = (app: RunningApp, path: string, key: string, body: object) =>
    request(app.url).post(path).set('Idempotency-Key', key).send(body);
  const pauseWrites = async (ms: number) => expect(await admin.call('CLIENT', 'PAUSE', String(ms), 'WRITE')).toBe('OK');
  /** A 503 from A while Redis holds writes back, timed from the request. */
  const refusedDuringPause = async (key: string, body: object) => {
    await pauseWrites(1_500);
    const started = Date.now();
    const res = await post(a, '/orders', key, body);
    const elapsed = Date.now() - started;
    expect(res.status).toBe(503);
    expect(res.headers['retry-after']).toBe('1');
    // The store's commandTimeout (1 s), not the pause: the 503 comes before Redis runs the script.
    expect(elapsed).toBeGreaterThanOrEqual(900);
    expect(elapsed).toBeLessThan(1_500);
    return started;
  };

  it('answers 503 after 1 s, and a retry on the other instance a few seconds later runs (201, not 409)', async () => {
    const key = newKey();
    const started = await refusedDuringPause(key, { item: 'book' });
    // The pause has ended: Redis ran A's acquire, and A released the record that wrote.
    await sleep(Math.max(0, started + 3_000 - Date.now()));
    const retry = await post(b, '/orders', key, { item: 'book' });
    expect(retry.status).toBe(201);
    expect(retry.headers['idempotent-replayed']).toBeUndefined();
    expect(retry.body).toEqual({ run: 1, body: { item: 'book' } });
    expect(runs.get('create')).toBe(1);
    expect(events).toContainEqual(
      expect.objectContaining({
        outcome: 'deferred_settlement',
        route: 'A POST /orders',
        deferred: expect.objectContaining({ action: 'release', result: 'settled' }),
      }),
    );
    const replay = await post(a, '/orders', key, { item: 'book' });
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(runs.get('create')).toBe(1);
  });

  it('lets a retry with a corrected body run after the 503 (not 422)', async () => {
    const key = newKey();
    const started = await refusedDuringPause(key, { item: 'boko' });
    await sleep(Math.max(0, started + 3_000 - Date.now()));
    const corrected = await post(b, '/orders', key, { item: 'book' });
    expect(corrected.status).toBe(201);
    expect(corrected.body).toEqual({ run: 1, body: { item: 'book' } });
  });

  it('releases later a record whose release failed after a 5xx (link cut), so a retry runs within seconds', async () => {
    const key = newKey();
    OrdersController.beforeFailure = () => proxy.cut();
    const failed = await post(a, '/orders/failing', key, {});
    expect(failed.status).toBe(502);
    await proxy.restore();
    // The record is A's, in flight with a 30 s lease; B's retries are 409 until A reconnects and releases it.
    const deadline = Date.now() + 10_000;
    let retry = await post(b, '/orders/failing', key, {});
    const statuses = [retry.status];
    while (retry.status === 409 && Date.now() < deadline) {
      await sleep(100);
      retry = await post(b, '/orders/failing', key, {});
      statuses.push(retry.status);
    }
    expect(retry.status).toBe(201);
    expect(new Set(statuses)).toEqual(new Set(statuses.length > 1 ? [409, 201] : [201]));
    expect(retry.body).toEqual({ run: 2 });
    expect(events).toContainEqual(
      expect.objectContaining({
        outcome: 'deferred_settlement',
        route: 'A POST /orders/failing',
        deferred: expect.objectContaining({ action: 'release', result: 'settled' }),
      }),
    );
  }, 20_000);
});
