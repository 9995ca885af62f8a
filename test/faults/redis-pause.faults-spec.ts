import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import Redis from 'ioredis';
import { PaymentsProcess, apiClient, createPostgresDatabase } from '../payments/payments-harness';
import { RedisServerProcess, startRedisServer } from '../support/redis-server';
import { describeWithServices } from '../support/services';
import { HttpAnswer, postJson } from './fault-client';
import { API_KEY, closeApps, createCustomers, spawnApps, summary } from './fault-support';

/** Target: how long a key may stay blocked after the 503 that says "retry with the same key". */
const BLOCKED_TARGET_MS = 3_000;
const ROUNDS = 3;
const AMOUNT = 1_000;

/**
 * A paused Redis: two payments app processes on one redis-server of this suite's own (default 30 s lease).
 * `CLIENT PAUSE 1500 WRITE`, then a payment on instance 0: its acquire times out (503 after the store's 1 s
 * commandTimeout) while Redis runs the script when the pause ends, writing an in-flight record. The client
 * then retries with the same key on instance 1 every 100 ms until the payment runs; the time from the 503 to
 * that retry is how long the key stayed blocked (it was the whole 30 s lease).
 */
describeWithServices(['postgres'], 'fault: Redis pauses writes under a payment (2 instances, Redis store)', () => {
  let redis: RedisServerProcess | undefined;
  let admin: Redis | undefined;
  let database: { url: string; drop: () => Promise<void> } | undefined;
  const apps: PaymentsProcess[] = [];

  beforeAll(async () => {
    redis = await startRedisServer();
    admin = new Redis(redis.url);
    database = await createPostgresDatabase();
    await spawnApps(2, { DATABASE_URL: database.url, IDEMPOTENCY_STORE: 'redis', REDIS_URL: redis.url }, apps);
  }, 90_000);

  afterAll(async () => {
    await closeApps(apps);
    admin?.disconnect();
    await Promise.allSettled([redis?.dispose(), database?.drop()]);
  }, 60_000);

  it(`unblocks the key of a 503 within ${BLOCKED_TARGET_MS} ms, and the payment is debited once`, async () => {
    const [first, second] = apps.map((app) => app.url);
    const start = 1_000_000;
    const [customerId] = [...(await createCustomers(first, [start])).keys()];
    const headers = (key: string) => ({ authorization: `Bearer ${API_KEY}`, 'idempotency-key': key });
    const pay = (url: string, key: string, reference: string): Promise<HttpAnswer> =>
      postJson(url, '/payments', { customerId, amount: AMOUNT, currency: 'EUR', reference }, headers(key), 10_000);
    // One payment on each instance first, so the paused call is the payment's own script.
    for (const url of [first, second]) expect((await pay(url, randomUUID(), `warm-${randomUUID()}`)).status).toBe(201);

    const rounds: Array<{
      refusedAfterMs: number;
      retryAfter: string | undefined;
      ranSentMs: number;
      blockedMs: number;
      statuses: number[];
    }> = [];
    for (let round = 0; round < ROUNDS; round++) {
      const key = randomUUID();
      const reference = `pause-${round}-${randomUUID()}`;
      expect(await admin!.call('CLIENT', 'PAUSE', '1500', 'WRITE')).toBe('OK');
      const sent = Date.now();
      const refused = await pay(first, key, reference);
      const refusedAt = Date.now();
      expect(refused.status).toBe(503);

      const statuses: number[] = [];
      // Blocked until the retry that ran was answered: conservative, it counts what is left of the pause too.
      let [ranSentMs, blockedMs] = [-1, -1];
      while (Date.now() - refusedAt < 35_000) {
        const retrySent = Date.now();
        const retry = await pay(second, key, reference);
        statuses.push(retry.status);
        if (retry.status === 201) {
          [ranSentMs, blockedMs] = [retrySent - refusedAt, Date.now() - refusedAt];
          break;
        }
        await sleep(100);
      }
      rounds.push({
        refusedAfterMs: refusedAt - sent,
        retryAfter: refused.headers['retry-after'] as string | undefined,
        ranSentMs,
        blockedMs,
        statuses,
      });
      // Let the pause and the deferred release of this round finish before the next one.
      await sleep(500);
    }

    const balance = (await apiClient(first).get(`/customers/${customerId}`)).body.balance as number;
    const tally = (statuses: number[]) =>
      [
        ...statuses.reduce(
          (counts, status) => counts.set(status, (counts.get(status) ?? 0) + 1),
          new Map<number, number>(),
        ),
      ]
        .map(([status, count]) => `${status}×${count}`)
        .join(' ');
    const longest = Math.max(...rounds.map((r) => r.blockedMs));
    console.log(
      summary('Redis paused (CLIENT PAUSE 1500 WRITE) under a payment', [
        ...rounds.map(
          (r, i) =>
            `round ${i + 1}: 503 after ${r.refusedAfterMs} ms (Retry-After ${r.retryAfter}); key blocked ${r.blockedMs} ms after the 503 ` +
            `(the retry that ran was sent ${r.ranSentMs} ms after it); retries ${tally(r.statuses)}`,
        ),
        `longest block after a 503: ${longest} ms (target < ${BLOCKED_TARGET_MS} ms; the lease is 30 s)`,
        `balance ${balance} (expected ${start - (2 + ROUNDS) * AMOUNT}: two warm-up payments and one per round)`,
      ]),
    );

    for (const r of rounds) {
      expect(r.retryAfter).toBe('1');
      expect(r.blockedMs).toBeGreaterThanOrEqual(0);
      // A retry is only ever told to wait (409) or to retry (503 while the pause lasts): never 422, never 500.
      expect(r.statuses.filter((status) => ![201, 409, 503].includes(status))).toEqual([]);
    }
    expect(longest).toBeLessThan(BLOCKED_TARGET_MS);
    expect(balance).toBe(start - (2 + ROUNDS) * AMOUNT);
  });
});
