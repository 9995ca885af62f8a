import { randomUUID } from 'node:crypto';
import Redis, { Cluster } from 'ioredis';
import { IdempotencyRecordId } from '@nest-idempotency/core';
import { RedisIdempotencyStore } from '@nest-idempotency/core/redis';
import { RedisClusterProcesses, startRedisCluster } from '../support/redis-server';
import { describeIdempotencyStoreContract } from '@nest-idempotency/core/testing';
import { testRunner } from '../support/test-runner';

/** Lets the tests name the key a record lives under. */
class InspectableRedisStore extends RedisIdempotencyStore {
  keyOf(id: IdempotencyRecordId): string {
    return this.recordKey(id);
  }
}

describe('RedisIdempotencyStore on a Redis Cluster of three masters', () => {
  let cluster: RedisClusterProcesses;
  const clients: Cluster[] = [];
  const connect = (): Cluster => {
    const client = new Cluster(cluster.nodes.map((node) => node.address));
    clients.push(client);
    return client;
  };

  beforeAll(async () => {
    cluster = await startRedisCluster(3);
  }, 60_000);
  afterAll(async () => {
    for (const client of clients) client.disconnect();
    await cluster?.dispose();
  }, 30_000);

  describeIdempotencyStoreContract(
    'redis cluster',
    { open: () => ({ store: new RedisIdempotencyStore(connect()) }) },
    testRunner,
  );

  describe('beyond the contract', () => {
    let client: Cluster;
    let store: InspectableRedisStore;
    beforeAll(() => {
      client = connect();
      store = new InspectableRedisStore(client);
    });

    it('spreads records over every master, each record on the slot of its hash tag', async () => {
      const namespace = `cluster-${randomUUID()}`;
      const ids = Array.from({ length: 60 }, (_, i) => ({ namespace, scope: `merchant-${i % 7}`, key: `{k}:${i}` }));
      for (const id of ids) {
        expect(
          await store.acquire(id, { fingerprint: 'fp', token: randomUUID(), leaseMs: 10_000, ttlMs: 60_000 }),
        ).toMatchObject({
          state: 'acquired',
        });
      }
      const masters = cluster.nodes.map((node) => new Redis(node.port, node.host));
      try {
        const held = await Promise.all(masters.map(async (master) => (await master.keys(`${namespace}:*`)).length));
        expect(held.every((count) => count > 0)).toBe(true);
        expect(held.reduce((sum, count) => sum + count, 0)).toBe(ids.length);
        const id = ids[0];
        const slot = (await masters[0].call('CLUSTER', 'KEYSLOT', store.keyOf(id))) as number;
        const tagSlot = (await masters[0].call('CLUSTER', 'KEYSLOT', `{${id.scope}:%7Bk%7D%3A0}`)) as number;
        expect(slot).toBe(tagSlot);
      } finally {
        for (const master of masters) master.disconnect();
      }
    });

    it('connects to seed nodes itself, fails fast, and closes the Cluster it created', async () => {
      const owned = new RedisIdempotencyStore({ cluster: cluster.nodes.map((node) => node.address) });
      const id = { namespace: `cluster-${randomUUID()}`, scope: 'm', key: 'k' };
      expect(
        await owned.acquire(id, { fingerprint: 'fp', token: randomUUID(), leaseMs: 1_000, ttlMs: 2_000 }),
      ).toMatchObject({
        state: 'acquired',
      });
      const created = (owned as unknown as { client: Cluster }).client;
      expect(created.options.enableOfflineQueue).toBe(false);
      expect(created.options.redisOptions).toMatchObject({
        maxRetriesPerRequest: 0,
        autoResendUnfulfilledCommands: false,
      });
      await owned.close();
      expect(['end', 'close', 'disconnecting']).toContain(created.status);
    });

    it('leaves the Cluster client it was given connected on close()', async () => {
      await store.close();
      expect(client.status).toBe('ready');
      expect(
        await store.acquire(
          { namespace: `cluster-${randomUUID()}`, scope: '', key: 'k' },
          {
            fingerprint: 'fp',
            token: randomUUID(),
            leaseMs: 1_000,
            ttlMs: 2_000,
          },
        ),
      ).toMatchObject({ state: 'acquired' });
    });
  });
});
