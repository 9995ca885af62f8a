import { Body, Controller, HttpException, Post } from '@nestjs/common';
import { setTimeout as sleep } from 'node:timers/promises';
import request from 'supertest';
import {
  IdempotencyAcquireRequest,
  IdempotencyEvent,
  IdempotencyModule,
  IdempotencyRecordId,
  IdempotencyStore,
  IdempotencyStoreUnreachableError,
  Idempotent,
  MemoryIdempotencyStore,
} from '@nest-idempotency/core';
import { HTTP_ADAPTERS, RunningApp, startHttpApp } from '../support/http-app';

/**
 * A memory store whose backend "goes down" on demand. The Redis suite proves the same against a real
 * Redis that is stopped; this one pins the protocol's side of it on every platform, every phase.
 */
class SwitchableStore extends IdempotencyStore {
  readonly inner = new MemoryIdempotencyStore();
  /** `acquireLandsLate`: the acquire times out but the store runs it anyway, as a paused Redis does. */
  /** `unreachable`: the acquire fails and the store says it never reached its backend. */
  down: {
    acquire?: boolean;
    unreachable?: boolean;
    acquireLandsLate?: boolean;
    complete?: boolean;
    release?: boolean;
  } = {};
  /** Release calls made, the deferred ones included. */
  releases = 0;
  async acquire(id: IdempotencyRecordId, request: IdempotencyAcquireRequest) {
    if (this.down.acquire) throw new Error('connect ECONNREFUSED 127.0.0.1:6390');
    if (this.down.unreachable) throw new IdempotencyStoreUnreachableError('connect ECONNREFUSED 127.0.0.1:6390');
    if (this.down.acquireLandsLate) {
      await this.inner.acquire(id, request);
      throw new Error('Command timed out');
    }
    return this.inner.acquire(id, request);
  }
  async complete(id: IdempotencyRecordId, token: string, response: string, ttlMs: number) {
    if (this.down.complete) throw new Error('Command timed out');
    return this.inner.complete(id, token, response, ttlMs);
  }
  async release(id: IdempotencyRecordId, token: string) {
    this.releases++;
    if (this.down.release) throw new Error('Command timed out');
    return this.inner.release(id, token);
  }
}

let runs = 0;

@Controller()
class ChargeController {
  @Post('closed')
  @Idempotent()
  closed() {
    return { run: ++runs };
  }

  @Post('body')
  @Idempotent()
  withBody(@Body() body: unknown) {
    return { run: ++runs, body };
  }

  @Post('failing')
  @Idempotent()
  failing() {
    if (++runs === 1) throw new HttpException('upstream broke', 502);
    return { run: runs };
  }

  @Post('hinted')
  @Idempotent({ retryAfter: 4_000 })
  hinted() {
    return { run: ++runs };
  }

  @Post('open')
  @Idempotent({ failOpen: true })
  open() {
    return { run: ++runs };
  }
}

describe.each(HTTP_ADAPTERS)('store failures (%s)', (_platform, adapter) => {
  const store = new SwitchableStore();
  const events: IdempotencyEvent[] = [];
  let running: RunningApp;

  beforeAll(async () => {
    running = await startHttpApp(
      {
        imports: [IdempotencyModule.forRoot({ store, events: (event) => events.push(event) })],
        controllers: [ChargeController],
      },
      adapter,
    );
  });
  afterAll(() => running.close());
  beforeEach(() => {
    runs = 0;
    events.length = 0;
    store.down = {};
  });

  it('fails closed: 503 with a JSON body, handler not run', async () => {
    store.down.acquire = true;
    const res = await request(running.url).post('/closed').set('Idempotency-Key', 'k-closed').send();
    expect(res.status).toBe(503);
    expect(res.body).toEqual({
      statusCode: 503,
      error: 'Service Unavailable',
      message: 'The idempotency store is unavailable; the request was not processed. Retry with the same key.',
    });
    // A retryable outage answer says when to retry: the default hint, 1 s.
    expect(res.headers['retry-after']).toBe('1');
    expect(runs).toBe(0);
    expect(events).toEqual([expect.objectContaining({ outcome: 'store_error', route: 'POST /closed' })]);
    store.down = {};
    const retry = await request(running.url).post('/closed').set('Idempotency-Key', 'k-closed').send();
    expect(retry.status).toBe(201);
    expect(runs).toBe(1);
  });

  it("sends the route's retryAfter hint with its 503", async () => {
    store.down.acquire = true;
    const res = await request(running.url).post('/hinted').set('Idempotency-Key', 'k-hinted').send();
    expect(res.status).toBe(503);
    expect(res.headers['retry-after']).toBe('4');
  });

  it('with failOpen runs the handler unprotected and says so in the event', async () => {
    store.down.acquire = true;
    const first = await request(running.url).post('/open').set('Idempotency-Key', 'k-open').send();
    const second = await request(running.url).post('/open').set('Idempotency-Key', 'k-open').send();
    expect([first.status, second.status]).toEqual([201, 201]);
    expect(runs).toBe(2);
    expect(events.map((event) => event.outcome)).toEqual(['fail_open', 'fail_open']);
    expect(events[0].reason).toContain('ECONNREFUSED');
  });

  const post = (path: string, key: string, body?: object) =>
    request(running.url).post(path).set('Idempotency-Key', key).send(body);
  /** Waits as long as the answer's Retry-After says, as a well-behaved client does before its retry. */
  const honour = (res: request.Response) => sleep(Number(res.headers['retry-after']) * 1000);
  const deferred = (route: string) =>
    events.filter((event) => event.outcome === 'deferred_settlement' && event.route === route);

  it('sends the result when storing it fails, stores it later, and a retry gets the replay', async () => {
    store.down.complete = true;
    const res = await post('/closed', 'k-complete');
    expect(res.status).toBe(201);
    expect(res.body).toEqual({ run: 1 });
    expect(events).toEqual([
      expect.objectContaining({ outcome: 'store_error', reason: 'complete failed: Command timed out' }),
    ]);
    // The record stays in flight while the store is down: a retry is a 409, never a second run.
    const busy = await post('/closed', 'k-complete');
    expect(busy.status).toBe(409);
    expect(busy.headers['retry-after']).toBe('1');
    store.down = {};
    await honour(busy);
    const replay = await post('/closed', 'k-complete');
    expect(replay.status).toBe(201);
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(replay.body).toEqual({ run: 1 });
    expect(runs).toBe(1);
    expect(deferred('POST /closed')).toEqual([
      expect.objectContaining({ deferred: expect.objectContaining({ action: 'complete', result: 'settled' }) }),
    ]);
  });

  it('releases later the record of an acquire that timed out but ran, so the retry of its 503 runs', async () => {
    store.down.acquireLandsLate = true;
    const refused = await post('/closed', 'k-late');
    expect(refused.status).toBe(503);
    expect(runs).toBe(0);
    store.down = {};
    await honour(refused);
    const retry = await post('/closed', 'k-late');
    expect(retry.status).toBe(201);
    expect(retry.headers['idempotent-replayed']).toBeUndefined();
    expect(runs).toBe(1);
    expect(deferred('POST /closed')).toEqual([
      expect.objectContaining({ deferred: { action: 'release', result: 'settled', attempts: 1 } }),
    ]);
  });

  it('releases nothing later after an acquire the store says never reached it, and does after any other', async () => {
    for (const [mode, key] of [
      ['unreachable', 'k-unreachable'],
      ['acquire', 'k-refused'],
    ] as const) {
      store.down = { [mode]: true };
      const before = store.releases;
      expect((await post('/closed', key)).status).toBe(503);
      store.down = {};
      // The first deferred attempt comes after 100 ms.
      await sleep(400);
      expect([mode, store.releases - before > 0]).toEqual([mode, mode === 'acquire']);
    }
  });

  it('lets a retry with a corrected body run after such a 503, not 422', async () => {
    store.down.acquireLandsLate = true;
    const refused = await post('/body', 'k-corrected', { amount: 1000 });
    expect(refused.status).toBe(503);
    store.down = {};
    await honour(refused);
    const corrected = await post('/body', 'k-corrected', { amount: 100 });
    expect(corrected.status).toBe(201);
    expect(corrected.body).toEqual({ run: 1, body: { amount: 100 } });
  });

  it('releases later a record whose release failed after a 5xx, so a retry runs', async () => {
    store.down.release = true;
    expect((await post('/failing', 'k-release')).status).toBe(502);
    // While the store still refuses, the record is in flight: 409 (with the hint), not a second run.
    const busy = await post('/failing', 'k-release');
    expect(busy.status).toBe(409);
    expect(busy.headers['retry-after']).toBe('1');
    store.down = {};
    await honour(busy);
    const retry = await post('/failing', 'k-release');
    expect(retry.status).toBe(201);
    expect(retry.body).toEqual({ run: 2 });
    expect(deferred('POST /failing')).toEqual([
      expect.objectContaining({ deferred: expect.objectContaining({ action: 'release', result: 'settled' }) }),
    ]);
  });
});
