import request from 'supertest';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Body, Controller, Post } from '@nestjs/common';
import {
  IdempotencyEvent,
  IdempotencyModule,
  IdempotencyStore,
  Idempotent,
  MemoryIdempotencyStore,
} from '@nest-idempotency/core';
import { RedisIdempotencyStore } from '@nest-idempotency/core/redis';
import { HTTP_ADAPTERS, RunningApp, startHttpApp } from '../support/http-app';
import { rowsNeeding, TEST_SERVICES } from '../support/services';
import { calls, OrdersFixtureController } from './fixture.controller';

/** A route whose records live 400 ms, so a test can see one expire. */
@Controller('short-lived')
class ShortLivedFixtureController {
  @Post()
  @Idempotent({ ttl: 400, lockTimeout: 400 })
  create(@Body() body: Record<string, unknown>) {
    return { run: calls.hit('short-lived'), body };
  }
}

const STORES: Array<[string, () => IdempotencyStore]> = [
  ['memory', () => new MemoryIdempotencyStore()],
  ...rowsNeeding(['redis'], 'localCache on the Redis store', [
    ['Redis', () => new RedisIdempotencyStore(TEST_SERVICES.redis)] as [string, () => IdempotencyStore],
  ]),
];

/**
 * Two apps on one store, one with `localCache` and one without: whatever the first answers from its cache, the
 * second answers from the store, so the two replays can be compared field by field.
 */
describe.each(STORES)('localCache on the %s store', (_name, openStore) => {
  const [, adapter] = HTTP_ADAPTERS[0];
  let store: IdempotencyStore;
  let cached: RunningApp;
  let plain: RunningApp;
  const events: IdempotencyEvent[] = [];
  const keyPrefix = `local-cache-${randomUUID()}`;
  const controllers = [OrdersFixtureController, ShortLivedFixtureController];

  beforeAll(async () => {
    store = openStore();
    cached = await startHttpApp(
      {
        imports: [
          IdempotencyModule.forRoot({
            store,
            keyPrefix,
            localCache: { maxEntries: 100 },
            events: (event) => events.push(event),
          }),
        ],
        controllers,
      },
      adapter,
    );
    plain = await startHttpApp({ imports: [IdempotencyModule.forRoot({ store, keyPrefix })], controllers }, adapter);
  });
  afterAll(async () => {
    await cached?.close();
    await plain?.close();
    await (store as { close?: () => unknown }).close?.();
  });
  beforeEach(() => {
    calls.reset();
    events.length = 0;
  });

  const post = (app: RunningApp, path: string, key: string) => request(app.url).post(path).set('Idempotency-Key', key);
  // Everything a client sees of a replay, except what differs between any two responses (date, connection).
  const seen = (res: request.Response) => ({
    status: res.status,
    text: res.text,
    contentType: res.headers['content-type'],
    location: res.headers['location'],
    version: res.headers['x-order-version'],
    replayed: res.headers['idempotent-replayed'],
    cookie: res.headers['set-cookie'],
    retryAfter: res.headers['retry-after'],
  });

  it.each([
    ['a 201 with a JSON body and replayable headers', '/orders', 'create'],
    ['a stored HttpException (402)', '/orders/declined', 'declined'],
    ['a 202 with a text body', '/orders/accepted', 'accepted'],
    ['an empty 204', '/orders/empty', 'empty'],
  ])('answers %s exactly as a store replay does', async (_case, path, route) => {
    const key = randomUUID();
    const first = await post(cached, path, key).send({ amount: 1 });
    const fromCache = await post(cached, path, key).send({ amount: 1 });
    const fromStore = await post(plain, path, key).send({ amount: 1 });
    expect(calls.of(route)).toBe(1);
    expect(events.map((event) => [event.outcome, event.fromLocalCache])).toEqual([
      ['executed', undefined],
      ['replayed', true],
    ]);
    expect(seen(fromCache)).toEqual(seen(fromStore));
    expect(fromCache.headers['idempotent-replayed']).toBe('true');
    expect(fromCache.status).toBe(first.status);
    expect(fromCache.text).toBe(first.text);
  });

  it('answers another request with a cached key with 422, as the store does', async () => {
    const key = randomUUID();
    await post(cached, '/orders', key).send({ amount: 1 });
    const fromCache = await post(cached, '/orders', key).send({ amount: 2 });
    const fromStore = await post(plain, '/orders', key).send({ amount: 2 });
    expect(fromCache.status).toBe(422);
    expect(seen(fromCache)).toEqual(seen(fromStore));
    expect(events.map((event) => event.outcome)).toEqual(['executed', 'mismatch']);
    expect(events[1].acquireMs).toBeUndefined();
    expect(calls.of('create')).toBe(1);
  });

  it('never serves a record past its ttl: once it expired, the key runs again', async () => {
    const key = randomUUID();
    expect((await post(cached, '/short-lived', key).send({ n: 1 })).body).toEqual({ run: 1, body: { n: 1 } });
    const replay = await post(cached, '/short-lived', key).send({ n: 1 });
    expect(replay.headers['idempotent-replayed']).toBe('true');
    await sleep(600);
    const after = await post(cached, '/short-lived', key).send({ n: 1 });
    expect(after.status).toBe(201);
    expect(after.headers['idempotent-replayed']).toBeUndefined();
    expect(after.body).toEqual({ run: 2, body: { n: 1 } });
    expect(events.map((event) => [event.outcome, event.fromLocalCache])).toEqual([
      ['executed', undefined],
      ['replayed', true],
      ['executed', undefined],
    ]);
  });

  it('keeps the replays of two principals with one key apart', async () => {
    const key = randomUUID();
    const alice = await post(cached, '/orders', key).set('x-user', 'alice').send({ amount: 1 });
    const bob = await post(cached, '/orders', key).set('x-user', 'bob').send({ amount: 1 });
    const aliceAgain = await post(cached, '/orders', key).set('x-user', 'alice').send({ amount: 1 });
    const bobAgain = await post(cached, '/orders', key).set('x-user', 'bob').send({ amount: 1 });
    expect(alice.body.run).not.toBe(bob.body.run);
    expect(aliceAgain.body).toEqual(alice.body);
    expect(bobAgain.body).toEqual(bob.body);
    expect(events.filter((event) => event.fromLocalCache).map((event) => event.scope)).toEqual(['alice', 'bob']);
  });
});
