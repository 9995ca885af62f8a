import { createServer, request as forward, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { INestApplication } from '@nestjs/common';
import { MemoryIdempotencyStore } from '@nest-idempotency/core';
import {
  createIdempotentFetch,
  IdempotentAttemptEvent,
  idempotencyKeyFor,
  IdempotentAttemptTimeoutError,
  IdempotentResponse,
} from '@nest-idempotency/core/client';
import { App } from 'supertest/types.js';
import { Order, OrdersService } from './../src/orders.service.js';
import { startApp, unique } from './idempotent-orders.js';

/**
 * The client entry (`@nest-idempotency/core/client`, over fetch) calling the app: a call whose first answer never
 * reaches it is retried with the same key, and the server runs the work once.
 */
describe('The idempotent client against the app (e2e)', () => {
  let app: INestApplication<App>;
  let appUrl: string;
  let proxy: Server | undefined;
  const orders = () => app.get(OrdersService);

  beforeAll(async () => {
    app = await startApp({ store: new MemoryIdempotencyStore(), keyPrefix: unique('nest12-starter') });
    appUrl = (await app.getUrl()).replace('[::1]', '127.0.0.1');
  });

  afterAll(async () => {
    await new Promise((resolve) => (proxy ? proxy.close(resolve) : resolve(undefined)));
    await app?.close();
  });

  it('retries a call whose answer was lost, with the same key: the server runs once and replays', async () => {
    // Between the client and the app: forwards every request, but drops the connection instead of passing the app's
    // first answer on, as a network failure after the server did the work would.
    const keysSent: Array<string | string[] | undefined> = [];
    let answersLost = 0;
    proxy = createServer((incoming, outgoing) => {
      keysSent.push(incoming.headers['idempotency-key']);
      const upstream = forward(
        new URL(incoming.url ?? '/', appUrl),
        { method: incoming.method, headers: incoming.headers },
        (answer) => {
          if (answersLost === 0) {
            answersLost++;
            answer.resume().on('end', () => incoming.socket.destroy());
            return;
          }
          outgoing.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(outgoing);
        },
      );
      incoming.pipe(upstream);
    });
    await new Promise<void>((resolve) => proxy!.listen(0, '127.0.0.1', resolve));
    const proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;

    const events: IdempotentAttemptEvent[] = [];
    const client = createIdempotentFetch({
      baseUrl: proxyUrl,
      maxAttempts: 3,
      baseDelayMs: 10,
      onAttempt: (event) => events.push(event),
    });
    const key = idempotencyKeyFor('order', unique('lost'));
    const before = orders().created;

    const result: IdempotentResponse<Order> = await client.post('/orders', { item: 'pen' }, { key });

    expect(answersLost).toBe(1);
    expect(events.map((event) => event.decision)).toEqual(['retry', 'done']);
    expect(events[0].error).toBeDefined();
    expect(keysSent).toEqual([key, key]);
    expect(result).toMatchObject({
      status: 201,
      replayed: true,
      attempts: 2,
      key,
      body: { order: before + 1, item: 'pen' },
    });
    expect(orders().created).toBe(before + 1);
  });

  it('retries an attempt that timed out while the server ran it: 409 with Retry-After, then the replay', async () => {
    const release = orders().hold();
    const events: IdempotentAttemptEvent[] = [];
    const client = createIdempotentFetch({
      baseUrl: appUrl,
      maxAttempts: 4,
      attemptTimeoutMs: 300,
      baseDelayMs: 10,
      onAttempt: (event) => {
        events.push(event);
        // The duplicate was told to come back later: let the first attempt, still running on the server, finish.
        if (event.status === 409) release();
      },
    });
    const key = idempotencyKeyFor('order', unique('timeout'));
    const before = orders().created;

    try {
      const result = await client.post<Order>('/orders', { item: 'ink' }, { key });
      const outcome = (event: IdempotentAttemptEvent) =>
        event.status ?? (event.error instanceof IdempotentAttemptTimeoutError ? 'timeout' : String(event.error));
      expect(events.map(outcome)).toEqual(['timeout', 409, 201]);
      expect(result).toMatchObject({
        status: 201,
        replayed: true,
        attempts: 3,
        body: { order: before + 1, item: 'ink' },
      });
      expect(orders().created).toBe(before + 1);
    } finally {
      release();
    }
  });
});
