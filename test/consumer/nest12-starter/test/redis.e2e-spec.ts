import { INestApplication } from '@nestjs/common';
import { RedisIdempotencyStore } from '@nest-idempotency/core/redis';
import { Redis } from 'ioredis';
import { App } from 'supertest/types.js';
import { OrdersService } from './../src/orders.service.js';
import { describeIdempotentOrders, postOrder, REDIS_URL, startApp, unique } from './idempotent-orders.js';

describe('Idempotent orders on the Redis store (e2e)', () => {
  // One namespace per run: the store's keys are `<keyPrefix>:{<scope>:<key>}`, removed afterwards.
  const keyPrefix = unique('nest12-starter');
  let redis: Redis;
  let first: INestApplication<App>;
  let second: INestApplication<App>;

  const recordKeys = async (): Promise<string[]> => {
    const keys: string[] = [];
    for await (const batch of redis.scanStream({ match: `${keyPrefix}:*`, count: 1000 })) {
      keys.push(...(batch as string[]));
    }
    return keys;
  };

  beforeAll(async () => {
    redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
    await redis.connect();
    // Two instances of the app, each with its own store and connection, sharing the Redis: two nodes behind a load
    // balancer.
    first = await startApp({ store: new RedisIdempotencyStore(REDIS_URL), keyPrefix });
    second = await startApp({ store: new RedisIdempotencyStore(REDIS_URL), keyPrefix });
  });

  afterAll(async () => {
    await first?.close();
    await second?.close();
    if (redis) {
      const keys = await recordKeys();
      if (keys.length > 0) await redis.del(...keys);
      redis.disconnect();
    }
  });

  describeIdempotentOrders('Redis', () => first);

  it('replays across two app instances sharing the Redis: the handler runs once, on one of them', async () => {
    const key = unique('across');
    const created = () => first.get(OrdersService).created + second.get(OrdersService).created;
    const before = created();

    const answer = await postOrder(first, key, 'book').expect(201);
    expect(answer.headers['idempotent-replayed']).toBeUndefined();
    const replay = await postOrder(second, key, 'book').expect(201);
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(replay.body).toEqual(answer.body);
    await postOrder(second, key, 'lamp').expect(422);

    expect(created()).toBe(before + 1);
    expect(second.get(OrdersService).created).toBe(0);
    // The record is in Redis, under this run's namespace.
    expect((await recordKeys()).some((name) => name.includes(key))).toBe(true);
  });
});
