import { setTimeout as sleep } from 'node:timers/promises';
import { Body, Controller, NotFoundException, Post } from '@nestjs/common';
import request from 'supertest';
import { Idempotent, IdempotencyModule, MemoryIdempotencyStore, sharedScope } from '@nest-idempotency/core';
import { RedisIdempotencyStore } from '@nest-idempotency/core/redis';
import { HTTP_ADAPTERS, RunningApp, startHttpApp } from '../support/http-app';

const PROTOCOL = 'https://github.com/nest-idempotency/nest-idempotency/blob/main/docs/protocol.md';

// Redis on a port nothing listens on: every acquire fails, as with a store that is down.
const unreachable = new RedisIdempotencyStore('redis://127.0.0.1:1', { commandTimeout: 200 });

@Controller('orders')
class OrdersController {
  @Post()
  @Idempotent()
  async create(@Body() body: { item: string; slowMs?: number }) {
    await sleep(body.slowMs ?? 0);
    if (body.item === 'missing') throw new NotFoundException('No such item');
    return { item: body.item };
  }

  @Post('unreachable')
  @Idempotent({ store: unreachable })
  unreachable() {
    return {};
  }
}

/** The answer must be RFC 9457 problem details and nothing else, as `application/problem+json`. */
function expectProblem(response: request.Response, status: number, type: string, title: string) {
  expect(response.status).toBe(status);
  expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect(response.body).toEqual({ type: `${PROTOCOL}#${type}`, title, status, detail: expect.any(String) });
}

describe.each(HTTP_ADAPTERS)("errorFormat: 'problem+json' on %s", (_name, adapter) => {
  let running: RunningApp;
  const post = (path: string, key: string | undefined, body: object) => {
    const call = request(running.url).post(path);
    return (key === undefined ? call : call.set('Idempotency-Key', key)).send(body);
  };

  beforeAll(async () => {
    running = await startHttpApp(
      {
        imports: [
          IdempotencyModule.forRoot({
            store: new MemoryIdempotencyStore(),
            scope: sharedScope,
            errorFormat: 'problem+json',
          }),
        ],
        controllers: [OrdersController],
      },
      adapter,
    );
  });
  afterAll(() => running.close());

  it('answers a missing key and an invalid key with 400 problem details', async () => {
    const missing = await post('/orders', undefined, { item: 'a' });
    expectProblem(missing, 400, '1-the-key', 'Idempotency-Key is missing');
    expect(missing.body.detail).toBe('The Idempotency-Key header is required on this route.');
    expectProblem(await post('/orders', 'bad key', { item: 'a' }), 400, '1-the-key', 'Idempotency-Key is invalid');
  });

  it('answers a reused key with 422 and a duplicate in flight with 409 and Retry-After', async () => {
    // then() sends it now; supertest sends a request only once it is awaited.
    const first = post('/orders', 'k-busy', { item: 'a', slowMs: 400 }).then((response) => response);
    await sleep(100);
    const busy = await post('/orders', 'k-busy', { item: 'a', slowMs: 400 });
    expectProblem(
      busy,
      409,
      '4-acquire-one-atomic-step-one-round-trip',
      'A request is outstanding for this Idempotency-Key',
    );
    expect(busy.headers['retry-after']).toBe('1');
    expect((await first).status).toBe(201);
    expectProblem(
      await post('/orders', 'k-busy', { item: 'b' }),
      422,
      '3-the-fingerprint',
      'Idempotency-Key is already used',
    );
  });

  it('answers a store outage with 503 and Retry-After', async () => {
    const down = await post('/orders/unreachable', 'k-down', {});
    expectProblem(down, 503, '7-when-the-store-fails', 'The idempotency store is unavailable');
    expect(down.headers['retry-after']).toBe('1');
  });

  it("leaves the handler's own errors and every success as they were, first time and replayed", async () => {
    for (const replayed of [undefined, 'true']) {
      const notFound = await post('/orders', 'k-404', { item: 'missing' });
      expect(notFound.status).toBe(404);
      expect(notFound.headers['content-type']).toMatch(/^application\/json/);
      expect(notFound.body).toEqual({ statusCode: 404, error: 'Not Found', message: 'No such item' });
      expect(notFound.headers['idempotent-replayed']).toBe(replayed);
    }
    const created = await post('/orders', 'k-ok', { item: 'a' });
    expect(created.headers['content-type']).toMatch(/^application\/json/);
  });
});

afterAll(() => unreachable.close());

describe('errorFormat', () => {
  it('is refused at start-up when it is neither nest nor problem+json', async () => {
    const starting = startHttpApp(
      { imports: [IdempotencyModule.forRoot({ errorFormat: 'xml' as never })], controllers: [OrdersController] },
      HTTP_ADAPTERS[0][1],
    );
    await expect(starting).rejects.toThrow(
      `Idempotency option "errorFormat" must be 'nest' or 'problem+json', got the string "xml"`,
    );
  });
});
