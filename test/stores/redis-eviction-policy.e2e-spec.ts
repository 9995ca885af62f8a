import type { MockInstance } from 'vitest';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { Logger } from '@nestjs/common';
import Redis, { Cluster } from 'ioredis';
import { RedisIdempotencyStore } from '@nest-idempotency/core/redis';
import {
  RedisClusterProcesses,
  RedisServerProcess,
  startRedisCluster,
  startRedisServer,
} from '../support/redis-server';

const attempt = () => ({ fingerprint: 'f', token: randomUUID(), leaseMs: 10_000, ttlMs: 60_000 });
const freshId = () => ({ namespace: 'eviction-policy', scope: 's', key: randomUUID() });

/** Polls `condition` every 10 ms for at most `timeoutMs`. */
async function waitFor(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await sleep(10);
  }
}

/** Drops the connection and resolves once the client is ready again. */
async function reconnect(client: Redis): Promise<void> {
  const ready = once(client, 'ready');
  client.disconnect(true);
  await ready;
}

// Every server here is a throwaway one of this suite's own: the shared Redis is never reconfigured.
describe('RedisIdempotencyStore checks maxmemory-policy when it connects', () => {
  let warn: MockInstance;
  let log: MockInstance;
  let error: MockInstance;
  const messages = (spy: MockInstance) =>
    spy.mock.calls.map(([message]) => String(message)).filter((m) => m.includes('maxmemory-policy'));
  beforeEach(() => {
    warn = vi.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    log = vi.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
    error = vi.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
  });
  afterEach(() => vi.restoreAllMocks());

  describe('on a server with allkeys-lru', () => {
    let server: RedisServerProcess;
    beforeAll(async () => {
      server = await startRedisServer(['--maxmemory-policy', 'allkeys-lru']);
    });
    afterAll(() => server?.dispose());

    it('warns once, naming maxmemory-policy and asking for noeviction, and serves requests all the same', async () => {
      const store = new RedisIdempotencyStore(server.url);
      try {
        expect(await store.acquire(freshId(), attempt())).toMatchObject({ state: 'acquired' });
        await waitFor(() => messages(warn).length > 0);
        expect(messages(warn)).toEqual([
          expect.stringMatching(
            new RegExp(
              `^Redis at 127\\.0\\.0\\.1:${server.port} has maxmemory-policy allkeys-lru: .*Set maxmemory-policy to noeviction`,
            ),
          ),
        ]);
        expect(error).not.toHaveBeenCalled();
      } finally {
        await store.close();
      }
    });

    it('checks again on a reconnect, and warns about volatile policies too (the records all carry a TTL)', async () => {
      const client = new Redis(server.url, { maxRetriesPerRequest: 0, autoResendUnfulfilledCommands: false });
      const store = new RedisIdempotencyStore(client);
      try {
        await store.acquire(freshId(), attempt());
        await waitFor(() => messages(warn).length === 1);
        await client.config('SET', 'maxmemory-policy', 'volatile-ttl');
        await reconnect(client);
        await waitFor(() => messages(warn).length === 2);
        expect(messages(warn)[1]).toContain('has maxmemory-policy volatile-ttl');
        // An unchanged server says nothing new on the next reconnect.
        await reconnect(client);
        await client.ping();
        expect(messages(warn)).toHaveLength(2);
      } finally {
        await store.close();
        client.disconnect();
      }
    });
  });

  describe('on a server with noeviction', () => {
    let server: RedisServerProcess;
    beforeAll(async () => {
      server = await startRedisServer(['--maxmemory-policy', 'noeviction']);
    });
    afterAll(() => server?.dispose());

    it('says nothing', async () => {
      const client = new Redis(server.url, { maxRetriesPerRequest: 0 });
      const store = new RedisIdempotencyStore(client);
      try {
        await store.acquire(freshId(), attempt());
        // Replies come in order: once this PING is answered, so is the CONFIG GET sent when the connection opened.
        await client.ping();
        await sleep(50);
        expect(messages(warn)).toEqual([]);
        expect(messages(log)).toEqual([]);
      } finally {
        await store.close();
        client.disconnect();
      }
    });
  });

  describe('on a server that refuses CONFIG (renamed, as managed Redis does)', () => {
    let server: RedisServerProcess;
    beforeAll(async () => {
      server = await startRedisServer(['--maxmemory-policy', 'allkeys-lru', '--rename-command', 'CONFIG', '']);
    });
    afterAll(() => server?.dispose());

    it('logs one informational line, never an error, and every request succeeds', async () => {
      const client = new Redis(server.url, { maxRetriesPerRequest: 0 });
      const store = new RedisIdempotencyStore(client);
      try {
        const results = await Promise.all(Array.from({ length: 20 }, () => store.acquire(freshId(), attempt())));
        expect(results.every((result) => result.state === 'acquired')).toBe(true);
        await waitFor(() => messages(log).length > 0);
        await reconnect(client);
        await client.ping();
        expect(messages(log)).toEqual([
          expect.stringMatching(/^Could not read maxmemory-policy of Redis at .*make sure it is noeviction/),
        ]);
        expect(messages(warn)).toEqual([]);
        expect(error).not.toHaveBeenCalled();
      } finally {
        await store.close();
        client.disconnect();
      }
    });
  });

  describe('on a Redis Cluster', () => {
    let cluster: RedisClusterProcesses;
    beforeAll(async () => {
      cluster = await startRedisCluster(3);
      // Two of the three masters may evict; each is named on its own.
      for (const node of cluster.nodes.slice(0, 2)) {
        const admin = new Redis(node.port, node.host);
        await admin.config('SET', 'maxmemory-policy', 'volatile-lru');
        admin.disconnect();
      }
    }, 60_000);
    afterAll(() => cluster?.dispose());

    it('checks every master and warns for each that may evict', async () => {
      const client = new Cluster([cluster.nodes[2].address], { redisOptions: { maxRetriesPerRequest: 0 } });
      const store = new RedisIdempotencyStore(client);
      try {
        await Promise.all(Array.from({ length: 20 }, () => store.acquire(freshId(), attempt())));
        await waitFor(() => messages(warn).length >= 2);
        await sleep(200);
        const named = messages(warn).map((message) => Number(/^Redis at 127\.0\.0\.1:(\d+) /.exec(message)![1]));
        expect(named.sort()).toEqual(
          cluster.nodes
            .slice(0, 2)
            .map((node) => node.port)
            .sort(),
        );
      } finally {
        await store.close();
        client.disconnect();
      }
    });
  });
});
