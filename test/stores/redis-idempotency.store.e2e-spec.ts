import { createHash, randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import Redis, { RedisOptions } from 'ioredis';
import { IdempotencyAcquireRequest, IdempotencyRecordId } from '@nest-idempotency/core';
import { RedisIdempotencyStore } from '@nest-idempotency/core/redis';
import { freePorts, RedisServerProcess, startRedisServer } from '../support/redis-server';
import { describeWithServices, TEST_SERVICES } from '../support/services';
import { describeIdempotencyStoreContract } from '@nest-idempotency/core/testing';
import { testRunner } from '../support/test-runner';

/** Lets the tests name the key a record lives under, to look at it on the server. */
class InspectableRedisStore extends RedisIdempotencyStore {
  keyOf(id: IdempotencyRecordId): string {
    return this.recordKey(id);
  }
}

const sharedServer = new URL(TEST_SERVICES.redis);
/** The shared server as ioredis options, so a test can add its own (a connection name, say). */
const sharedOptions: RedisOptions = {
  host: sharedServer.hostname,
  port: Number(sharedServer.port || 6379),
  password: sharedServer.password ? decodeURIComponent(sharedServer.password) : undefined,
};

const attempt = (overrides: Partial<IdempotencyAcquireRequest> = {}): IdempotencyAcquireRequest => ({
  fingerprint: createHash('sha256').update(randomUUID()).digest('hex'),
  token: randomUUID(),
  leaseMs: 10_000,
  ttlMs: 60_000,
  ...overrides,
});
const freshId = (): IdempotencyRecordId => ({
  namespace: `redis-e2e-${randomUUID()}`,
  scope: 'merchant-1',
  key: randomUUID(),
});

/** Addresses (`ip:port`) of the server's connections called `name`, from CLIENT LIST. */
async function connectionsNamed(redis: Redis, name: string): Promise<string[]> {
  const list = (await redis.call('CLIENT', 'LIST')) as string;
  return list
    .split('\n')
    .filter((line) => line.includes(` name=${name} `))
    .map((line) => /(?:^| )addr=(\S+)/.exec(line)![1]);
}

describeWithServices(['redis'], 'RedisIdempotencyStore on a standalone server', () => {
  describeIdempotencyStoreContract(
    'redis standalone',
    {
      open: () => {
        const store = new RedisIdempotencyStore(TEST_SERVICES.redis);
        return { store, close: () => store.close() };
      },
    },
    testRunner,
  );

  describe('round trips, counted by the server', () => {
    const name = `idempotency-round-trips-${randomUUID()}`;
    let store: InspectableRedisStore;
    let observer: Redis;
    let monitor: Redis;
    let storeAddress: string;
    const log: { args: string[]; source: string }[] = [];

    beforeAll(async () => {
      store = new InspectableRedisStore({ ...sharedOptions, connectionName: name });
      observer = new Redis(TEST_SERVICES.redis);
      // MONITOR streams every command the server runs, with the address of the connection that sent it.
      monitor = await observer.monitor();
      monitor.on('monitor', (_time: string, args: string[], source: string) => log.push({ args, source }));
    });
    afterAll(async () => {
      monitor?.disconnect();
      observer?.disconnect();
      await store?.close();
    });

    /**
     * Runs `work`, then ECHOes a marker from another connection: the server runs commands one at a time and
     * MONITOR reports them in that order, so once the marker arrives every command of `work` has too.
     */
    async function commandsOf(work: () => Promise<unknown>): Promise<string[][]> {
      const start = `start-${randomUUID()}`;
      const end = `end-${randomUUID()}`;
      await observer.echo(start);
      await work();
      await observer.echo(end);
      const deadline = Date.now() + 5_000;
      const at = (marker: string) =>
        log.findIndex(({ args }) => args[0].toLowerCase() === 'echo' && args[1] === marker);
      while (at(end) < 0) {
        if (Date.now() > deadline) throw new Error('MONITOR did not report the end marker within 5 s');
        await sleep(10);
      }
      return log
        .slice(at(start) + 1, at(end))
        .filter(({ source }) => source === storeAddress)
        .map(({ args }) => args);
    }

    it('sends each script itself (EVAL) the first time a connection uses it, still one command', async () => {
      const completed = freshId();
      const released = freshId();
      const commands = await commandsOf(async () => {
        const first = attempt();
        await store.acquire(completed, first);
        [storeAddress] = await connectionsNamed(observer, name);
        await store.complete(completed, first.token, '"done"', 60_000);
        const second = attempt();
        await store.acquire(released, second);
        await store.release(released, second.token);
      });
      expect(storeAddress).toMatch(/^127\.0\.0\.1:\d+$/);
      // The connection's own set-up (CLIENT SETNAME, INFO, ...) may fall in this window; only scripts count.
      const scripts = commands.filter(([command]) => /^eval/i.test(command));
      expect(scripts.map((args) => [args[0].toLowerCase(), args[3]])).toEqual([
        ['eval', store.keyOf(completed)],
        ['eval', store.keyOf(completed)],
        ['evalsha', store.keyOf(released)],
        ['eval', store.keyOf(released)],
      ]);
    });

    it('costs a new key exactly two round trips (acquire, complete) and a replay exactly one', async () => {
      const id = freshId();
      const first = attempt();
      const newKey = await commandsOf(async () => {
        expect(await store.acquire(id, first)).toEqual({ state: 'acquired', takenOver: false });
        expect(await store.complete(id, first.token, '{"status":201}', 60_000)).toBe(true);
      });
      expect(newKey.map((args) => [args[0].toLowerCase(), args[3]])).toEqual([
        ['evalsha', store.keyOf(id)],
        ['evalsha', store.keyOf(id)],
      ]);

      const replay = await commandsOf(async () => {
        expect(await store.acquire(id, attempt({ fingerprint: first.fingerprint }))).toMatchObject({
          state: 'completed',
        });
      });
      expect(replay.map((args) => [args[0].toLowerCase(), args[3]])).toEqual([['evalsha', store.keyOf(id)]]);

      const released = await commandsOf(async () => {
        const other = freshId();
        const owner = attempt();
        await store.acquire(other, owner);
        expect(await store.release(other, owner.token)).toBe(true);
      });
      expect(released.map(([command]) => command.toLowerCase())).toEqual(['evalsha', 'evalsha']);
    });
  });

  describe('memory', () => {
    let store: InspectableRedisStore;
    let inspector: Redis;
    beforeAll(() => {
      store = new InspectableRedisStore(TEST_SERVICES.redis);
      inspector = new Redis(TEST_SERVICES.redis);
    });
    afterAll(async () => {
      inspector?.disconnect();
      await store?.close();
    });

    /** A stored HTTP response as the interceptor writes it, padded to exactly `bytes` bytes. */
    function storedResponse(bytes: number): string {
      const shape = (note: string) =>
        JSON.stringify({
          status: 201,
          headers: { 'content-type': 'application/json; charset=utf-8' },
          body: { id: randomUUID(), amount: 1250, note },
        });
      const response = shape('x'.repeat(bytes - shape('').length));
      expect(Buffer.byteLength(response)).toBe(bytes);
      return response;
    }

    /** MEMORY USAGE of a record as the library would leave it: default namespace, a UUID key, a SHA-256 fingerprint. */
    async function usage(responseBytes: number | null): Promise<number> {
      const id = { namespace: 'idempotency', scope: 'merchant-1', key: randomUUID() };
      const owner = attempt();
      await store.acquire(id, owner);
      if (responseBytes !== null) await store.complete(id, owner.token, storedResponse(responseBytes), 60_000);
      const used = (await inspector.call('MEMORY', 'USAGE', store.keyOf(id), 'SAMPLES', '0')) as number;
      await inspector.del(store.keyOf(id));
      return used;
    }

    it('keeps a completed record within its response plus 200 bytes (200 B and 2 KB responses)', async () => {
      const small = await usage(200);
      const large = await usage(2_000);
      const figures = {
        'in flight': await usage(null),
        '200 B response': small,
        '2,000 B response': large,
        '2,048 B response': await usage(2_048),
        '10,000 B response': await usage(10_000),
      };
      console.log(
        `MEMORY USAGE of one record (key idempotency:{merchant-1:<uuid>}, SHA-256 fingerprint):\n` +
          Object.entries(figures)
            .map(([what, bytes]) => `  ${what.padEnd(18)} ${bytes} bytes`)
            .join('\n'),
      );
      expect(small).toBeLessThanOrEqual(200 + 200);
      expect(large).toBeLessThanOrEqual(2_000 + 200);
    });

    it('lets Redis expire a record itself: the key carries the retention as its TTL', async () => {
      const id = freshId();
      const owner = attempt({ leaseMs: 1_000, ttlMs: 5_000 });
      await store.acquire(id, owner);
      const inFlightTtl = await inspector.pttl(store.keyOf(id));
      expect(inFlightTtl).toBeGreaterThan(4_000);
      expect(inFlightTtl).toBeLessThanOrEqual(5_000);
      await store.complete(id, owner.token, '"done"', 90_000);
      const completedTtl = await inspector.pttl(store.keyOf(id));
      expect(completedTtl).toBeGreaterThan(85_000);
      expect(completedTtl).toBeLessThanOrEqual(90_000);
      await inspector.del(store.keyOf(id));
    });

    it('puts scope and key, escaped, in one hash tag', () => {
      expect(store.keyOf({ namespace: 'idempotency', scope: 'merchant-1', key: 'abc' })).toBe(
        'idempotency:{merchant-1:abc}',
      );
      expect(store.keyOf({ namespace: 'a:b', scope: 'c{d}', key: '%:}{' })).toBe('a%3Ab:{c%7Bd%7D:%25%3A%7D%7B}');
    });
  });

  describe('closing', () => {
    it('leaves a client passed in open', async () => {
      const client = new Redis(TEST_SERVICES.redis);
      try {
        const store = new RedisIdempotencyStore(client);
        await store.acquire(freshId(), attempt());
        await store.close();
        await store.close();
        expect(client.status).toBe('ready');
        expect(await client.ping()).toBe('PONG');
        expect(await store.acquire(freshId(), attempt())).toMatchObject({ state: 'acquired' });
      } finally {
        client.disconnect();
      }
    });

    it('closes a client it created itself, on close()', async () => {
      const name = `idempotency-own-${randomUUID()}`;
      const observer = new Redis(TEST_SERVICES.redis);
      try {
        const store = new RedisIdempotencyStore({ ...sharedOptions, connectionName: name });
        await store.acquire(freshId(), attempt());
        expect(await connectionsNamed(observer, name)).toHaveLength(1);
        await store.close();
        await store.close();
        const deadline = Date.now() + 5_000;
        while ((await connectionsNamed(observer, name)).length > 0) {
          if (Date.now() > deadline) throw new Error('the store left its connection open');
          await sleep(20);
        }
        await expect(store.acquire(freshId(), attempt())).rejects.toThrow();
      } finally {
        observer.disconnect();
      }
    });
  });
});

describe('RedisIdempotencyStore when Redis does not answer (throwaway redis-server)', () => {
  let server: RedisServerProcess;
  beforeAll(async () => {
    server = await startRedisServer();
  }, 20_000);
  afterAll(async () => {
    await server?.dispose();
  });
  afterEach(() => server.thaw());

  /** How long `promise` took to reject, and with what. */
  async function rejection(promise: Promise<unknown>): Promise<{ ms: number; message: string }> {
    const started = Date.now();
    try {
      await promise;
    } catch (error) {
      return { ms: Date.now() - started, message: (error as Error).message };
    }
    throw new Error('expected a rejection');
  }

  it('rejects after commandTimeout when the server is frozen, and works again once it answers', async () => {
    const store = new RedisIdempotencyStore(server.url, { commandTimeout: 300 });
    try {
      const id = freshId();
      const owner = attempt();
      await store.acquire(id, owner);
      server.freeze();
      const failed = await rejection(store.complete(id, owner.token, '"done"', 60_000));
      expect(failed.ms).toBeGreaterThanOrEqual(280);
      expect(failed.ms).toBeLessThan(1_000);
      expect(failed.message).toMatch(/timed out|no answer/i);
      server.thaw();
      expect(await store.acquire(freshId(), attempt())).toEqual({ state: 'acquired', takenOver: false });
    } finally {
      await store.close();
    }
  });

  it('defaults commandTimeout to 1000 ms', async () => {
    const store = new RedisIdempotencyStore(server.url);
    try {
      await store.acquire(freshId(), attempt());
      server.freeze();
      const failed = await rejection(store.acquire(freshId(), attempt()));
      expect(failed.ms).toBeGreaterThanOrEqual(950);
      expect(failed.ms).toBeLessThan(2_000);
    } finally {
      server.thaw();
      await store.close();
    }
  });

  it('bounds calls through a client passed in, even one with ioredis defaults (offline queue, 20 retries)', async () => {
    const client = new Redis(server.url);
    const store = new RedisIdempotencyStore(client, { commandTimeout: 300 });
    try {
      await store.acquire(freshId(), attempt());
      server.freeze();
      const failed = await rejection(store.acquire(freshId(), attempt()));
      expect(failed.ms).toBeLessThan(1_000);
    } finally {
      server.thaw();
      client.disconnect();
    }
  });

  it('rejects within commandTimeout while nothing listens, then connects once a server appears', async () => {
    const [port] = await freePorts(1);
    const store = new RedisIdempotencyStore(`redis://127.0.0.1:${port}`, { commandTimeout: 300 });
    const late = new RedisServerProcess(port);
    try {
      const failed = await rejection(store.acquire(freshId(), attempt()));
      expect(failed.ms).toBeLessThan(1_000);
      await late.start();
      const deadline = Date.now() + 10_000;
      for (;;) {
        try {
          expect(await store.acquire(freshId(), attempt())).toMatchObject({ state: 'acquired' });
          break;
        } catch (error) {
          if (Date.now() > deadline) throw error;
          await sleep(100);
        }
      }
    } finally {
      await store.close();
      await late.dispose();
    }
  });

  it('refuses a commandTimeout that is not a positive whole number', () => {
    expect(() => new RedisIdempotencyStore({ lazyConnect: true }, { commandTimeout: 0 })).toThrow(/commandTimeout/);
  });
});
