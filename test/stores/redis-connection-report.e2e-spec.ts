import type { MockInstance } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import { Logger } from '@nestjs/common';
import Redis from 'ioredis';
import { IdempotencyRecordId } from '@nest-idempotency/core';
import { RedisIdempotencyStore } from '@nest-idempotency/core/redis';
import { RedisServerProcess, startRedisServer } from '../support/redis-server';

const request = { fingerprint: 'f'.repeat(64), token: 't1', leaseMs: 30_000, ttlMs: 60_000 };
const id = (key: string): IdempotencyRecordId => ({ namespace: 'connection-report', scope: 's', key });

/** Acquires until Redis answers again (the store reconnects by itself), within `timeoutMs`. */
async function untilServed(store: RedisIdempotencyStore, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let n = 0; ; n++) {
    try {
      await store.acquire(id(`after-${n}`), request);
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await sleep(100);
    }
  }
}

describe('A Redis connection the store created', () => {
  let server: RedisServerProcess;
  let warn: MockInstance;
  let info: MockInstance;
  let consoleError: MockInstance;

  beforeEach(async () => {
    server = await startRedisServer();
    warn = vi.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    info = vi.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
    consoleError = vi.spyOn(console, 'error').mockImplementation(() => undefined);
  });

  afterEach(async () => {
    vi.restoreAllMocks();
    await server.dispose();
  });

  const messages = (spy: MockInstance, text: string) =>
    spy.mock.calls.filter(([message]) => String(message).includes(text));

  it('reports an outage once and its recovery once, and ioredis prints nothing of its own', async () => {
    const store = new RedisIdempotencyStore(server.url, { commandTimeout: 200 });
    try {
      await untilServed(store);
      await server.kill();
      // Several seconds of reconnection attempts, with requests failing meanwhile, as an app under load would see.
      const downUntil = Date.now() + 4000;
      let failed = 0;
      while (Date.now() < downUntil) {
        await store.acquire(id(`down-${failed}`), request).catch(() => failed++);
        await sleep(100);
      }
      expect(failed).toBeGreaterThan(10);

      await server.start();
      await untilServed(store);

      expect(messages(warn, 'Lost the connection to Redis')).toHaveLength(1);
      expect(messages(info, 'The connection to Redis is back')).toHaveLength(1);
      expect(messages(consoleError, '[ioredis] Unhandled error event')).toHaveLength(0);
    } finally {
      await store.close();
    }
  });

  it('adds no listener to a client passed in: that one is its owner’s to watch', async () => {
    const client = new Redis(server.url, { maxRetriesPerRequest: 0 });
    const before = client.listenerCount('error');
    const store = new RedisIdempotencyStore(client);
    try {
      expect(client.listenerCount('error')).toBe(before);
    } finally {
      await store.close();
      client.disconnect();
    }
  });
});
