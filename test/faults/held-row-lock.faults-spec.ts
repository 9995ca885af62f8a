import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { DATABASE_TIMEOUTS } from '../../apps/payments/src/database/database-timeouts';
import { createMariadbDatabase, createPostgresDatabase, PaymentsProcess } from '../payments/payments-harness';
import { holdCustomerRowLock } from '../payments/row-lock';
import { describeWithServices, TEST_SERVICES, TestService } from '../support/services';
import { Attempt, getStatus, RetryingClient } from './fault-client';
import { checkLedger, LogicalPayment, readLedger } from './ledger';
import {
  API_KEY,
  appOutputs,
  closeApps,
  createCustomers,
  outcomes,
  PaymentStream,
  spawnApps,
  summary,
} from './fault-support';

const HOLD_MS = 12_000;
// A payment blocked by the lock gives up within two lock waits (PostgreSQL queues it on the row's tuple lock first,
// then on the holder's transaction); one second more covers the acquire, the rollback and the release.
const LOCKED_REQUEST_BOUND_MS = 2 * DATABASE_TIMEOUTS.lockWaitMs + 1_000;
const OTHER_CUSTOMERS_TARGET_MS = 3_000;

const CONFIGURATIONS: Array<{
  name: string;
  services: TestService[];
  create: () => Promise<{ url: string; drop: () => Promise<void> }>;
  env: Record<string, string>;
}> = [
  {
    name: 'PostgreSQL, TypeORM store',
    services: ['postgres'],
    create: createPostgresDatabase,
    env: { IDEMPOTENCY_STORE: 'typeorm' },
  },
  {
    name: 'PostgreSQL, Redis store',
    services: ['postgres', 'redis'],
    create: createPostgresDatabase,
    env: { IDEMPOTENCY_STORE: 'redis', REDIS_URL: TEST_SERVICES.redis },
  },
  {
    name: 'MariaDB, TypeORM store',
    services: ['mariadb'],
    create: createMariadbDatabase,
    env: { IDEMPOTENCY_STORE: 'typeorm' },
  },
];

/**
 * A held row lock: an outside session (an operator's shell, a stuck job) holds one customer's row with
 * SELECT … FOR UPDATE for 12 s while payments stream in, for that customer and for others. That customer's
 * payments must be answered 503 with Retry-After within the lock bound and run once the lock is gone; the others
 * are served as usual (within 3 s), /health stays 200, nothing is debited twice, nothing is a 500.
 */
for (const configuration of CONFIGURATIONS) {
  describeWithServices(configuration.services, `fault: a row lock held for 12 s (${configuration.name})`, () => {
    const apps: PaymentsProcess[] = [];
    let database: { url: string; drop: () => Promise<void> } | undefined;

    beforeAll(async () => {
      database = await configuration.create();
      await spawnApps(1, { DATABASE_URL: database.url, ...configuration.env }, apps);
    }, 90_000);

    afterAll(async () => {
      await closeApps(apps);
      await database?.drop();
    }, 60_000);

    it("answers the locked customer's payments 503 within the lock bound, serves the others, and debits each payment once", async () => {
      const [url] = apps.map((app) => app.url);
      const runId = `lock-${randomUUID().slice(0, 8)}`;
      const startBalances = await createCustomers(url, [2_000_000, 2_000_000, 2_000_000, 2_000_000]);
      const [lockedCustomer, ...others] = [...startBalances.keys()];
      const client = new RetryingClient(API_KEY);
      // Two streams, so that workers stuck retrying the locked customer's payments never starve the others'.
      const locked = new PaymentStream(client, [url], [lockedCustomer], {
        runId: `${runId}-locked`,
        workers: 3,
        refundShare: 0,
      });
      const free = new PaymentStream(client, [url], others, { runId: `${runId}-free`, workers: 3, refundShare: 0 });
      const health: Array<{ status: number; ms: number }> = [];
      let holding = true;
      let from = 0;
      let until = 0;

      locked.start();
      free.start();
      try {
        await sleep(1_500);
        const lock = await holdCustomerRowLock(database!.url, lockedCustomer);
        from = Date.now();
        const probing = (async () => {
          while (holding) {
            const started = Date.now();
            health.push({ status: await getStatus(url, '/health', 10_000), ms: Date.now() - started });
            await sleep(500);
          }
        })();
        await sleep(HOLD_MS);
        // The window ends before the ROLLBACK is sent: a payment the release lets through can answer while
        // release() still waits for the disconnect, and must not count as answered under the lock.
        until = Date.now();
        await lock.release();
        holding = false;
        await probing;
        await sleep(3_000);
      } finally {
        holding = false;
        await Promise.all([locked.stop(), free.stop()]);
      }

      const attemptsOf = (payments: LogicalPayment[]) => payments.flatMap((payment) => payment.first.attempts);
      // Every attempt that waited while the lock was held counts for the longest; statuses are those of the attempts
      // the lock surrounded entirely (one sent just before the release may well succeed).
      const overlapping = (attempt: Attempt) => attempt.sentAt < until && attempt.answeredAt > from;
      const inside = (attempt: Attempt) => attempt.sentAt >= from && attempt.answeredAt <= until;
      const lockedOverlapping = attemptsOf(locked.payments).filter(overlapping);
      const freeOverlapping = attemptsOf(free.payments).filter(overlapping);
      const lockedDuring = lockedOverlapping.filter(inside);
      const freeDuring = freeOverlapping.filter(inside);
      const longest = (attempts: Attempt[]) => Math.max(0, ...attempts.map((a) => a.answeredAt - a.sentAt));
      const statuses = (attempts: Attempt[]) => [...new Set(attempts.map((a) => a.status))].sort();
      const payments = [...locked.payments, ...free.payments];
      const ledger = await readLedger(database!.url);
      const report = checkLedger(ledger, startBalances, payments, []);

      console.log(
        summary(
          `Row lock held for ${until - from} ms (${configuration.name})`,
          [
            `payments ${payments.length}: ${JSON.stringify(outcomes(payments.map((p) => p.first)))}; ${client.tally}`,
            `locked customer, requests under the lock: ${lockedDuring.length}, statuses ${statuses(lockedDuring).join(',')}, ` +
              `longest ${longest(lockedOverlapping)} ms (bound ${LOCKED_REQUEST_BOUND_MS} ms; lock wait ${DATABASE_TIMEOUTS.lockWaitMs} ms)`,
            `other customers, requests under the lock: ${freeDuring.length}, statuses ${statuses(freeOverlapping).join(',')}, ` +
              `longest ${longest(freeOverlapping)} ms (target ${OTHER_CUSTOMERS_TARGET_MS} ms)`,
            `/health under the lock: ${health.map((h) => h.status).join(',')}; longest ${Math.max(0, ...health.map((h) => h.ms))} ms`,
          ],
          report,
        ),
      );
      if (report.violations.length > 0) console.log(appOutputs(apps));

      expect(lockedDuring.length).toBeGreaterThan(0);
      expect(statuses(lockedDuring)).toEqual([503]);
      expect(longest(lockedOverlapping)).toBeLessThanOrEqual(LOCKED_REQUEST_BOUND_MS);
      expect(freeDuring.length).toBeGreaterThan(0);
      expect(statuses(freeOverlapping)).toEqual([201]);
      expect(longest(freeOverlapping)).toBeLessThan(OTHER_CUSTOMERS_TARGET_MS);
      expect(health.length).toBeGreaterThan(0);
      expect(health.every((h) => h.status === 200)).toBe(true);
      // Once the lock is gone, the locked customer's payments ran with the keys they were refused under, once each.
      expect(payments.filter((p) => p.first.final !== 'succeeded')).toEqual([]);
      expect(report.violations).toEqual([]);
      expect(report.doubleDebits).toBe(0);
      expect(client.tally.count(500)).toBe(0);
      expect(client.tally.unavailableWithoutRetryAfter).toBe(0);
    });
  });
}
