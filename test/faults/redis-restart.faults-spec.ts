import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { PaymentsProcess, createPostgresDatabase } from '../payments/payments-harness';
import { RedisServerProcess, startRedisServer } from '../support/redis-server';
import { describeWithServices } from '../support/services';
import { RetryingClient } from './fault-client';
import { checkLedger, readLedger } from './ledger';
import {
  API_KEY,
  appOutputs,
  closeApps,
  createCustomers,
  failureLogCounts,
  isAlive,
  outcomes,
  PaymentStream,
  resendSucceeded,
  spawnApps,
  summary,
  waitForHealthy,
} from './fault-support';

/**
 * Redis restart: a dedicated redis-server (no persistence) behind two payments app processes, a stream
 * of payments and refunds retried with the same key, Redis stopped (SIGKILL, then SIGTERM) and started twice.
 */
describeWithServices(['postgres'], 'fault: Redis restarted under load (2 instances, Redis store)', () => {
  let redis: RedisServerProcess | undefined;
  const apps: PaymentsProcess[] = [];
  let database: { url: string; drop: () => Promise<void> } | undefined;

  beforeAll(async () => {
    redis = await startRedisServer();
    database = await createPostgresDatabase();
    await spawnApps(
      2,
      {
        DATABASE_URL: database.url,
        IDEMPOTENCY_STORE: 'redis',
        REDIS_URL: redis.url,
        IDEMPOTENCY_LOCK_TIMEOUT_SECONDS: '3',
      },
      apps,
    );
  }, 90_000);

  afterAll(async () => {
    await closeApps(apps);
    await Promise.allSettled([redis?.dispose(), database?.drop()]);
  }, 60_000);

  it('debits every payment the client saw succeed exactly once, answers 503 (never 500) while Redis is down, and recovers without a restart', async () => {
    const urls = apps.map((app) => app.url);
    const pids = apps.map((app) => app.child.pid);
    const runId = `redis-${randomUUID().slice(0, 8)}`;
    // Three customers who can pay everything, one who runs out (402s, stored and replayed like any answer).
    const startBalances = await createCustomers(urls[0], [2_000_000, 2_000_000, 2_000_000, 4_000]);
    const client = new RetryingClient(API_KEY);
    const stream = new PaymentStream(client, urls, [...startBalances.keys()], { runId, workers: 6, refundShare: 0.3 });
    const outages: Array<{
      signal: NodeJS.Signals;
      downFrom: number;
      downUntil: number;
      back: number;
      healthyAfterMs: number;
    }> = [];

    try {
      stream.start();
      await sleep(1_500);
      for (const signal of ['SIGKILL', 'SIGTERM'] as const) {
        await redis!.stop(signal);
        const downFrom = Date.now();
        await sleep(3_000);
        const downUntil = Date.now();
        await redis!.start();
        const back = Date.now();
        const healthyAfterMs = await waitForHealthy(urls, 20_000);
        outages.push({ signal, downFrom, downUntil, back, healthyAfterMs });
        await sleep(1_500);
      }
    } finally {
      // Should a step above fail mid-outage, bring Redis back so that the stream ends quickly.
      await redis!.start().catch(() => undefined);
      await stream.stop();
    }

    // Recovery without a restart: the same processes, healthy, and a new payment on each succeeds at once.
    expect(apps.map(isAlive)).toEqual([true, true]);
    expect(apps.map((app) => app.child.pid)).toEqual(pids);
    await waitForHealthy(urls, 20_000);
    const fresh = new RetryingClient(API_KEY, { maxAttempts: 1, deadlineMs: 10_000, requestTimeoutMs: 10_000 });
    const customerId = [...startBalances.keys()][0];
    const after = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        fresh.send(
          urls,
          '/payments',
          { customerId, amount: 100, currency: 'EUR', reference: `${runId}-after-${i}` },
          { start: i },
        ),
      ),
    );
    for (const [i, op] of after.entries()) {
      stream.payments.push({ customerId, amount: 100, reference: `${runId}-after-${i}`, first: op, resends: [] });
    }

    // A client that retries a payment it already saw succeed: a replay, or — for a record Redis lost when it
    // restarted — a 409 "reference used". Never a second debit.
    const resends = await resendSucceeded(client, urls, stream.payments);

    const ledger = await readLedger(database!.url);
    const report = checkLedger(ledger, startBalances, stream.payments, stream.refunds);

    // Every request sent after Redis was gone and answered before it was started again — one that lived
    // entirely inside the outage — was answered 503.
    const duringOutage = client.log.filter((attempt) =>
      outages.some((o) => attempt.sentAt >= o.downFrom && attempt.answeredAt <= o.downUntil),
    );
    const outageStatuses = new Set(duringOutage.map((attempt) => attempt.status));
    // After each restart, both instances answered a payment with 201 again.
    const recovered = outages.map((o) =>
      urls.map((_, i) => client.log.some((a) => a.instance === i && a.status === 201 && a.sentAt >= o.back)),
    );

    const firstOps = stream.payments.map((payment) => payment.first);
    console.log(
      summary(
        'Redis restarted under load',
        [
          `payments ${stream.payments.length}: ${JSON.stringify(outcomes(firstOps))}; refunds ${stream.refunds.length}: ${JSON.stringify(outcomes(stream.refunds.map((r) => r.op)))}`,
          `stream + re-sends: ${client.tally}`,
          ...outages.map(
            (o, i) =>
              `outage ${i + 1} (${o.signal}): ${o.downUntil - o.downFrom} ms down; ${client.log.filter((a) => a.sentAt >= o.downFrom && a.sentAt < o.back).length} requests sent meanwhile; healthy ${o.healthyAfterMs} ms after start`,
          ),
          `requests that lived entirely inside an outage: ${duringOutage.length}, statuses ${[...outageStatuses].join(',')}`,
          `apps logged: ${failureLogCounts(apps)}`,
          `after recovery: ${after.map((op) => op.attempts[0]?.status).join(' ')}`,
          `re-sends of succeeded payments: ${JSON.stringify(outcomes(resends))} (replayed ${resends.filter((r) => r.replayed).length})`,
          `payment rows ${ledger.payments.length}, refund rows ${ledger.refunds.length}`,
        ],
        report,
      ),
    );
    if (report.violations.length > 0 || client.tally.count(500) > 0) console.log(appOutputs(apps, 400));

    expect(report.violations).toEqual([]);
    expect(report.doubleDebits).toBe(0);
    expect(client.tally.unavailableWithoutRetryAfter).toBe(0);
    expect(client.tally.count(500)).toBe(0);
    // No debit the client did not see succeed: every attempt got an HTTP answer, so nothing was in flight unseen.
    expect(client.tally.transportErrors).toBe(0);
    expect(report.unseenButAccounted).toBe(0);
    // 503 while Redis is down, never 500 (nor any other 5xx), at any time.
    expect([...client.tally.byStatus.keys()].filter((status) => status >= 500 && status !== 503)).toEqual([]);
    expect(duringOutage.length).toBeGreaterThan(0);
    expect([...outageStatuses]).toEqual([503]);
    expect(client.tally.count(503)).toBeGreaterThan(0);
    // Every payment got a definite answer; no key was ever "used for another request".
    expect(firstOps.filter((op) => op.final === 'gave_up' || op.final === 'refused')).toEqual([]);
    expect(stream.refunds.filter((r) => r.op.final !== 'succeeded' && r.op.final !== 'reference_conflict')).toEqual([]);
    expect(client.tally.count(422)).toBe(0);
    expect(recovered).toEqual(outages.map(() => [true, true]));
    expect(after.map((op) => `${op.final}:${op.attempts.length}`)).toEqual(Array(6).fill('succeeded:1'));
    expect(resends.every((r) => r.final === 'succeeded' || r.final === 'reference_conflict')).toBe(true);
  });
});
