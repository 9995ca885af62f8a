import { Controller, Post } from '@nestjs/common';
import request from 'supertest';
import {
  IdempotencyAcquireRequest,
  IdempotencyEvent,
  IdempotencyModule,
  IdempotencyRecordId,
  IdempotencyStore,
  Idempotent,
  MemoryIdempotencyStore,
} from '@app/idempotency';
import { HTTP_ADAPTERS, RunningApp, startHttpApp } from '../support/http-app';

/**
 * A memory store whose backend "goes down" on demand. The Redis suite proves the same against a real
 * Redis that is stopped; this one pins the protocol's side of it on every platform, every phase.
 */
class SwitchableStore extends IdempotencyStore {
  readonly inner = new MemoryIdempotencyStore();
  down: { acquire?: boolean; complete?: boolean; release?: boolean } = {};
  async acquire(id: IdempotencyRecordId, request: IdempotencyAcquireRequest) {
    if (this.down.acquire) throw new Error('connect ECONNREFUSED 127.0.0.1:6390');
    return this.inner.acquire(id, request);
  }
  async complete(id: IdempotencyRecordId, token: string, response: string, ttlMs: number) {
    if (this.down.complete) throw new Error('Command timed out');
    return this.inner.complete(id, token, response, ttlMs);
  }
  async release(id: IdempotencyRecordId, token: string) {
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
      { imports: [IdempotencyModule.forRoot({ store, events: (event) => events.push(event) })], controllers: [ChargeController] },
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

  it('sends the route\'s retryAfter hint with its 503', async () => {
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

  it('sends the result when storing it fails, and reports a store error', async () => {
    store.down.complete = true;
    const res = await request(running.url).post('/closed').set('Idempotency-Key', 'k-complete').send();
    expect(res.status).toBe(201);
    expect(res.body).toEqual({ run: 1 });
    expect(events).toEqual([expect.objectContaining({ outcome: 'store_error', reason: 'complete failed: Command timed out' })]);
    // The record stays in flight: a quick retry is a 409, never a second run.
    store.down = {};
    expect((await request(running.url).post('/closed').set('Idempotency-Key', 'k-complete').send()).status).toBe(409);
    expect(runs).toBe(1);
  });
});
