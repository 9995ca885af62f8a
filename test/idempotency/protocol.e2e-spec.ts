import request from 'supertest';
import { createHash, randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { LoggerService } from '@nestjs/common';
import {
  IdempotencyEvent,
  IdempotencyModule,
  IdempotencyModuleOptions,
  MemoryIdempotencyStore,
} from '@nest-idempotency/core';
import { RedisIdempotencyStore } from '@nest-idempotency/core/redis';
import { HTTP_ADAPTERS, RunningApp, startHttpApp } from '../support/http-app';
import { rowsNeeding, TEST_SERVICES } from '../support/services';
import {
  calls,
  LayeredFixtureController,
  OrdersFixtureController,
  PublicFixtureController,
  SlowFixtureController,
} from './fixture.controller';

/**
 * The stores the protocol is proven on: memory as shipped, and memory and Redis with `localCache` on, where
 * replays (and mismatches) of records this process completed are answered without asking the store.
 */
const STORES: Array<[string, () => Pick<IdempotencyModuleOptions, 'store' | 'keyPrefix' | 'localCache'>]> = [
  ['memory', () => ({ store: new MemoryIdempotencyStore() })],
  ['memory + localCache', () => ({ store: new MemoryIdempotencyStore(), localCache: { maxEntries: 1_000 } })],
  ...rowsNeeding(['redis'], 'the protocol on the Redis + localCache store', [
    [
      'Redis + localCache',
      () => ({
        store: new RedisIdempotencyStore(TEST_SERVICES.redis),
        keyPrefix: `protocol-${randomUUID()}`,
        localCache: { maxEntries: 1_000 },
      }),
    ] as (typeof STORES)[number],
  ]),
];
const CASES = HTTP_ADAPTERS.flatMap(([platform, adapter]) =>
  STORES.map(([storeName, open]) => [platform, storeName, adapter, open] as const),
);

describe.each(CASES)('idempotency protocol over HTTP (%s, %s)', (_platform, _storeName, adapter, openStore) => {
  let running: RunningApp;
  let storeOptions: ReturnType<typeof openStore>;
  const events: IdempotencyEvent[] = [];
  const warnings: string[] = [];
  // The app's logger, as an application would install one: the library's warnings arrive here.
  const logger: LoggerService = {
    log() {},
    error() {},
    warn: (message) => warnings.push(String(message)),
    debug() {},
    verbose() {},
  };
  let keySeq = 0;
  const newKey = () => `key-${Date.now()}-${++keySeq}`;

  beforeAll(async () => {
    storeOptions = openStore();
    running = await startHttpApp(
      {
        imports: [IdempotencyModule.forRoot({ ...storeOptions, events: (event) => events.push(event) })],
        controllers: [
          OrdersFixtureController,
          SlowFixtureController,
          LayeredFixtureController,
          PublicFixtureController,
        ],
      },
      adapter,
    );
    running.app.useLogger(logger);
  });
  afterAll(async () => {
    await running.close();
    await (storeOptions.store as { close?: () => unknown }).close?.();
  });
  beforeEach(() => {
    calls.reset();
    events.length = 0;
    warnings.length = 0;
    SlowFixtureController.gate.reset();
  });

  const post = (path: string, key?: string) => {
    const req = request(running.url).post(path);
    return key === undefined ? req : req.set('Idempotency-Key', key);
  };
  const outcomes = () => events.map((event) => event.outcome);

  describe('keys', () => {
    it('refuses a request without a key with 400 and a JSON body, without running the handler', async () => {
      const res = await post('/orders').send({ amount: 1 });
      expect(res.status).toBe(400);
      expect(res.body).toEqual({
        statusCode: 400,
        error: 'Bad Request',
        message: 'The Idempotency-Key header is required on this route.',
      });
      expect(calls.of('create')).toBe(0);
      expect(outcomes()).toEqual(['missing_key']);
    });

    it.each([
      ['empty', ''],
      ['too long', 'k'.repeat(256)],
      ['with a space', 'a b'],
      ['an empty quoted string', '""'],
      ['a broken quoted string', '"a"b"'],
    ])('refuses a key that is %s with 400', async (_case, key) => {
      const res = await post('/orders', key).send({ amount: 1 });
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ statusCode: 400, error: 'Bad Request' });
      expect(res.body.message).toMatch(/^Invalid Idempotency-Key header: /);
      expect(calls.of('create')).toBe(0);
      expect(outcomes()).toEqual(['invalid_key']);
    });

    it('accepts 255 characters of visible ASCII', async () => {
      const key = `${'!~'.repeat(100)}${newKey()}`.slice(0, 255);
      expect((await post('/orders', key).send({})).status).toBe(201);
    });

    it('refuses a key header sent twice', async () => {
      const res = await request(running.url)
        .post('/orders')
        .set('Idempotency-Key', ['one', 'two'] as unknown as string)
        .send({});
      expect(res.status).toBe(400);
      expect(res.body.message).toContain('more than once');
      expect(calls.of('create')).toBe(0);
    });

    it('treats the quoted form as the same key', async () => {
      const key = newKey();
      const first = await post('/orders', `"${key}"`).send({ amount: 5 });
      const second = await post('/orders', key).send({ amount: 5 });
      expect(first.status).toBe(201);
      expect(second.status).toBe(201);
      expect(second.headers['idempotent-replayed']).toBe('true');
      expect(second.body).toEqual(first.body);
      expect(calls.of('create')).toBe(1);
    });

    it('hands the handler the validated, unquoted key through @IdempotencyKey()', async () => {
      const key = newKey();
      expect((await post('/orders/key', `"${key}"`).send()).body).toEqual({ key, run: 1 });
    });

    it('leaves the key on the request only for a handler with an @IdempotencyKey() parameter', async () => {
      expect((await post('/orders/request-untouched', newKey()).send()).body).toEqual({ keyOnRequest: false, run: 1 });
    });

    it('runs a route with an optional key unprotected when no key comes, and protected when one does', async () => {
      await post('/orders/optional').send();
      await post('/orders/optional').send();
      expect(calls.of('optional')).toBe(2);
      const key = newKey();
      await post('/orders/optional', key).send();
      const replay = await post('/orders/optional', key).send();
      expect(replay.headers['idempotent-replayed']).toBe('true');
      expect(calls.of('optional')).toBe(3);
    });
  });

  describe('replay', () => {
    it('runs the handler once and replays status, body and replayable headers, never set-cookie', async () => {
      const key = newKey();
      const first = await post('/orders', key).send({ amount: 100, currency: 'EUR' });
      expect(first.status).toBe(201);
      expect(first.headers['idempotent-replayed']).toBeUndefined();
      expect(first.headers['set-cookie']).toBeDefined();

      const second = await post('/orders', key).send({ amount: 100, currency: 'EUR' });
      expect(second.status).toBe(201);
      expect(second.body).toEqual(first.body);
      expect(second.headers['idempotent-replayed']).toBe('true');
      expect(second.headers['location']).toBe(first.headers['location']);
      expect(second.headers['x-order-version']).toBe('7');
      expect(second.headers['content-type']).toBe(first.headers['content-type']);
      expect(second.headers['set-cookie']).toBeUndefined();
      expect(calls.of('create')).toBe(1);
      expect(outcomes()).toEqual(['executed', 'replayed']);
      if (storeOptions.localCache) {
        // Answered from the process: no acquire, and the event says so.
        expect(events[1]).toMatchObject({ fromLocalCache: true });
        expect(events[1].acquireMs).toBeUndefined();
      } else {
        expect(events[1].acquireMs).toBeGreaterThanOrEqual(0);
        expect(events[1].fromLocalCache).toBeUndefined();
      }
    });

    it('treats a body with its keys in another order as the same request', async () => {
      const key = newKey();
      await post('/orders', key).set('content-type', 'application/json').send('{"a":1,"b":{"c":2,"d":[1,2]}}');
      const res = await post('/orders', key)
        .set('content-type', 'application/json')
        .send('{"b":{"d":[1,2],"c":2},"a":1}');
      expect(res.headers['idempotent-replayed']).toBe('true');
      expect(calls.of('create')).toBe(1);
    });

    it('replays a non-default status and a text body', async () => {
      const key = newKey();
      const first = await post('/orders/accepted', key).send();
      const second = await post('/orders/accepted', key).send();
      expect(first.status).toBe(202);
      expect(second.status).toBe(202);
      expect(second.text).toBe(first.text);
      expect(second.headers['content-type']).toBe(first.headers['content-type']);
      expect(calls.of('accepted')).toBe(1);
    });

    it('replays an empty 204', async () => {
      const key = newKey();
      expect((await post('/orders/empty', key).send()).status).toBe(204);
      const second = await post('/orders/empty', key).send();
      expect(second.status).toBe(204);
      expect(second.headers['idempotent-replayed']).toBe('true');
      expect(calls.of('empty')).toBe(1);
    });

    it('stores and replays an HttpException below 500 (a 402), handler run once', async () => {
      const key = newKey();
      const first = await post('/orders/declined', key).send();
      const second = await post('/orders/declined', key).send();
      expect(first.status).toBe(402);
      expect(first.body).toEqual({ statusCode: 402, error: 'Payment Required', message: 'declined on run 1' });
      expect(second.status).toBe(402);
      expect(second.body).toEqual(first.body);
      expect(second.headers['idempotent-replayed']).toBe('true');
      expect(calls.of('declined')).toBe(1);
    });
  });

  describe('fingerprint', () => {
    it('answers 422 to the same key with another body, without running the handler', async () => {
      const key = newKey();
      await post('/orders', key).send({ amount: 100 });
      const res = await post('/orders', key).send({ amount: 101 });
      expect(res.status).toBe(422);
      expect(res.body).toEqual({
        statusCode: 422,
        error: 'Unprocessable Entity',
        message: 'This idempotency key was already used for a different request. Use a new key for a new request.',
      });
      expect(calls.of('create')).toBe(1);
      expect(outcomes()).toEqual(['executed', 'mismatch']);
    });

    it("answers 422 to the same key on another path (another payment's refund route)", async () => {
      const key = newKey();
      expect((await post('/orders/p1/refunds', key).send({ amount: 1 })).status).toBe(201);
      expect((await post('/orders/p2/refunds', key).send({ amount: 1 })).status).toBe(422);
      expect(calls.of('refund')).toBe(1);
    });

    it('answers 422 when a fingerprinted header differs, and replays when it matches', async () => {
      const key = newKey();
      await post('/orders/tenant', key).set('x-tenant', 'a').send();
      expect((await post('/orders/tenant', key).set('x-tenant', 'b').send()).status).toBe(422);
      expect((await post('/orders/tenant', key).set('x-tenant', 'a').send()).headers['idempotent-replayed']).toBe(
        'true',
      );
      expect(calls.of('tenant')).toBe(1);
    });
  });

  describe('scope', () => {
    it('keeps two principals that send the same key apart', async () => {
      const key = newKey();
      const alice = await post('/orders', key).set('x-user', 'alice').send({ amount: 1 });
      const bob = await post('/orders', key).set('x-user', 'bob').send({ amount: 1 });
      expect(alice.body.id).not.toEqual(bob.body.id);
      expect(bob.headers['idempotent-replayed']).toBeUndefined();
      // Even another body is no mismatch across principals: they never see each other's records.
      const bobAgain = await post('/orders', key).set('x-user', 'bob').send({ amount: 1 });
      expect(bobAgain.body).toEqual(bob.body);
      expect(calls.of('create')).toBe(2);
      expect(events.map((event) => event.scope)).toEqual(['alice', 'bob', 'bob']);
    });

    it("never replays a long principal's response to one whose id is literally its hashed form", async () => {
      const key = newKey();
      const victim = `victim-${'v'.repeat(193)}`;
      expect(Buffer.byteLength(victim)).toBe(200);
      const attacker = `sha256:${createHash('sha256').update(victim).digest('hex')}`;
      const victims = await post('/orders', key).set('x-user', victim).send({ amount: 900 });
      expect(victims.status).toBe(201);
      const attackers = await post('/orders', key).set('x-user', attacker).send({ amount: 900 });
      expect(attackers.status).toBe(201);
      expect(attackers.headers['idempotent-replayed']).toBeUndefined();
      expect(attackers.body.id).not.toEqual(victims.body.id);
      expect(calls.of('create')).toBe(2);
      expect(outcomes()).toEqual(['executed', 'executed']);
      expect(events[0].scope).not.toEqual(events[1].scope);
      // The victim still gets its own response back.
      const victimAgain = await post('/orders', key).set('x-user', victim).send({ amount: 900 });
      expect(victimAgain.headers['idempotent-replayed']).toBe('true');
      expect(victimAgain.body).toEqual(victims.body);
    });
  });

  describe('no principal', () => {
    const scopeWarnings = (route: string) => warnings.filter((warning) => warning.startsWith(`${route}: no principal`));

    it('warns once per route, naming it and the scope option, when the default scope finds no principal', async () => {
      // A caller with a principal is no reason to warn.
      expect((await post('/public/anonymous', newKey()).set('x-user', 'alice').send({ n: 0 })).status).toBe(201);
      expect(scopeWarnings('POST /public/anonymous')).toEqual([]);
      for (let n = 1; n <= 3; n++) expect((await post('/public/anonymous', newKey()).send({ n })).status).toBe(201);
      const [warning, ...more] = scopeWarnings('POST /public/anonymous');
      expect(more).toEqual([]);
      expect(warning).toContain('"scope" option');
      expect(warning).toContain('sharedScope');
      expect(calls.of('anonymous')).toBe(4);
    });

    it("is the shared space it warns about: one anonymous caller's key replays another's response", async () => {
      const key = newKey();
      const first = await post('/public/anonymous', key).send({ n: 1 });
      const other = await post('/public/anonymous', key).send({ n: 1 });
      expect(other.headers['idempotent-replayed']).toBe('true');
      expect(other.body).toEqual(first.body);
    });

    it('never warns for a route that declares sharedScope, which shares one space even between principals', async () => {
      const key = newKey();
      expect((await post('/public/shared', key).send({ n: 1 })).status).toBe(201);
      const bob = await post('/public/shared', key).set('x-user', 'bob').send({ n: 1 });
      expect(bob.headers['idempotent-replayed']).toBe('true');
      await post('/public/shared', newKey()).send({ n: 2 });
      expect(calls.of('shared')).toBe(2);
      expect(warnings.filter((warning) => warning.includes('no principal'))).toEqual([]);
    });
  });

  describe('failures', () => {
    it('releases the key after a 5xx so a retry runs again', async () => {
      const key = newKey();
      const first = await post('/orders/flaky', key).send();
      expect(first.status).toBe(502);
      const second = await post('/orders/flaky', key).send();
      expect(second.status).toBe(201);
      expect(second.headers['idempotent-replayed']).toBeUndefined();
      const third = await post('/orders/flaky', key).send();
      expect(third.headers['idempotent-replayed']).toBe('true');
      expect(calls.of('flaky')).toBe(2);
      expect(outcomes()).toEqual(['released', 'executed', 'replayed']);
    });

    it('releases the key after a non-HTTP error (500) so a retry runs again', async () => {
      const key = newKey();
      expect((await post('/orders/crash', key).send()).status).toBe(500);
      expect((await post('/orders/crash', key).send()).status).toBe(500);
      expect(calls.of('crash')).toBe(2);
      expect(outcomes()).toEqual(['released', 'released']);
    });

    it('does not store a request that pipes rejected, so a corrected retry with the key runs', async () => {
      const key = newKey();
      expect((await post('/orders/parsed/abc', key).send()).status).toBe(400);
      expect(outcomes()).toEqual(['released']);
      // Same key, corrected request: not a mismatch, it runs.
      const corrected = await post('/orders/parsed/12', key).send();
      expect(corrected.status).toBe(201);
      expect(corrected.body).toEqual({ n: 12, run: 1 });
    });
  });

  describe('responses that cannot be stored', () => {
    it.each([
      ['file', 'StreamableFile'],
      ['stream', 'a Readable stream'],
    ])('sends /%s (%s) as it is, releases the key and says why', async (route) => {
      const key = newKey();
      const first = await post(`/orders/${route}`, key).send();
      expect(first.status).toBe(201);
      const second = await post(`/orders/${route}`, key).send();
      expect(second.headers['idempotent-replayed']).toBeUndefined();
      expect(calls.of(route)).toBe(2);
      expect(outcomes()).toEqual(['not_stored', 'not_stored']);
      expect(events[0].reason).toBe('streamed body');
      expect(events[0].route).toBe(`POST /orders/${route}`);
    });

    it('sends a response over maxResponseBytes but does not store it', async () => {
      const key = newKey();
      const first = await post('/orders/big', key).send();
      expect(first.status).toBe(201);
      expect(first.body.padding).toHaveLength(2048);
      expect(events[0]).toMatchObject({ outcome: 'not_stored', route: 'POST /orders/big' });
      expect(events[0].reason).toMatch(/over maxResponseBytes \(1024\)/);
      await post('/orders/big', key).send();
      expect(calls.of('big')).toBe(2);
    });
  });

  describe('concurrency', () => {
    it('runs 50 identical concurrent requests once; the others get 409 with Retry-After', async () => {
      const key = newKey();
      const pending = Array.from({ length: 50 }, () =>
        post('/slow', key)
          .send({ amount: 1 })
          .then((res) => res),
      );
      // Let every request reach the store before the first one finishes.
      while (events.length < 49) await sleep(10);
      SlowFixtureController.gate.open();
      const responses = await Promise.all(pending);
      expect(calls.of('slow')).toBe(1);
      const created = responses.filter((res) => res.status === 201);
      const conflicts = responses.filter((res) => res.status === 409);
      expect(created).toHaveLength(1);
      expect(conflicts).toHaveLength(49);
      for (const res of conflicts) {
        // The default hint (1 s), not the 30 s left of the lease: the first request may finish in milliseconds.
        expect(res.headers['retry-after']).toBe('1');
        expect(res.body).toMatchObject({ statusCode: 409, error: 'Conflict' });
      }
      expect(outcomes().filter((outcome) => outcome === 'conflict')).toHaveLength(49);
    });

    it('with onConflict { wait }, 50 identical concurrent requests all get the one result', async () => {
      const key = newKey();
      const pending = Array.from({ length: 50 }, () =>
        post('/slow/wait', key)
          .send()
          .then((res) => res),
      );
      await sleep(200);
      SlowFixtureController.gate.open();
      const responses = await Promise.all(pending);
      expect(calls.of('slow-wait')).toBe(1);
      expect(responses.every((res) => res.status === 201)).toBe(true);
      expect(new Set(responses.map((res) => JSON.stringify(res.body)))).toEqual(new Set(['{"run":1}']));
      expect(responses.filter((res) => res.headers['idempotent-replayed'] === 'true')).toHaveLength(49);
    });

    it.each([
      ['/slow/hinted', "the route's retryAfter hint (2.5 s), rounded up", '3', 'slow-hinted'],
      ['/slow/hour-lease', 'the default hint under a 1 h lease, not the hour', '1', 'slow-hour-lease'],
    ])('answers %s while in flight with Retry-After from %s', async (path, _why, expected, counter) => {
      const key = newKey();
      const first = post(path, key)
        .send()
        .then((res) => res);
      // The first request holds the record once its handler runs.
      while (calls.of(counter) < 1) await sleep(10);
      const conflict = await post(path, key).send();
      expect(conflict.status).toBe(409);
      expect(conflict.headers['retry-after']).toBe(expected);
      SlowFixtureController.gate.open();
      expect((await first).status).toBe(201);
    });

    it('gives a waiter whose wait runs out a 409', async () => {
      const key = newKey();
      const first = post('/slow/short-wait', key)
        .send()
        .then((res) => res);
      await sleep(50);
      const second = await post('/slow/short-wait', key).send();
      expect(second.status).toBe(409);
      expect(second.headers['retry-after']).toBeDefined();
      SlowFixtureController.gate.open();
      expect((await first).status).toBe(201);
    });

    it('runs 50 distinct keys at once 50 times, with no false 409', async () => {
      SlowFixtureController.gate.open();
      const responses = await Promise.all(
        Array.from({ length: 50 }, () =>
          post('/slow', newKey())
            .send({ amount: 1 })
            .then((res) => res),
        ),
      );
      expect(responses.map((res) => res.status)).toEqual(Array(50).fill(201));
      expect(calls.of('slow')).toBe(50);
    });
  });

  describe('leases', () => {
    it("lets a retry take over an expired lease; the old owner's late result is fenced off", async () => {
      const key = newKey();
      const first = post('/slow/lease', key)
        .send()
        .then((res) => res);
      await sleep(100);
      const conflict = await post('/slow/lease', key).send();
      expect(conflict.status).toBe(409);
      // The 1 s default hint is capped by the ~200 ms left of the lease, and the header says at least 1.
      expect(conflict.headers['retry-after']).toBe('1');
      await sleep(350);
      const takeover = await post('/slow/lease', key).send();
      expect(takeover.status).toBe(201);
      expect(takeover.body).toEqual({ run: 2 });
      const late = await first;
      expect(late.body).toEqual({ run: 1 });
      const replay = await post('/slow/lease', key).send();
      expect(replay.body).toEqual({ run: 2 });
      expect(replay.headers['idempotent-replayed']).toBe('true');
      expect(calls.of('lease')).toBe(2);
      const late_event = events.find((event) => event.leaseLost);
      expect(late_event).toMatchObject({ outcome: 'executed', leaseLost: true });
    });
  });

  describe('decorator placement', () => {
    it('applies a controller-wide @Idempotent() and lets a method override it, running the handler once', async () => {
      expect((await post('/layered/loose').send()).status).toBe(201);
      expect((await post('/layered/strict').send()).status).toBe(400);
      const key = newKey();
      await post('/layered/strict', key).send();
      const replay = await post('/layered/strict', key).send();
      expect(replay.headers['idempotent-replayed']).toBe('true');
      expect(calls.of('strict')).toBe(1);
    });
  });
});
