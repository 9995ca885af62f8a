import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { DATABASE_TIMEOUTS } from '../../apps/payments/src/database/database-timeouts';
import { describeWithServices } from '../support/services';
import { PAYMENTS_CONFIGURATIONS } from './payment-configurations';
import { apiClient, PaymentsApp, startPaymentsApp } from './payments-harness';
import { holdCustomerRowLock } from './row-lock';

// A blocked payment gives up within two lock waits (PostgreSQL queues it on the row's tuple lock first); the slack
// covers the acquire, the rollback, the release and a busy machine.
const LOCKED_ANSWER_BOUND_MS = 2 * DATABASE_TIMEOUTS.lockWaitMs + 1_000;
const OTHER_CUSTOMER_TARGET_MS = 3_000;

for (const configuration of PAYMENTS_CONFIGURATIONS.filter((c) => /^(PostgreSQL|MariaDB)/.test(c.name))) {
  describeWithServices(configuration.services, `a held row lock on ${configuration.name}`, () => {
    let app: PaymentsApp;
    let databaseUrl: string;
    let cleanup: () => Promise<void>;
    let api: ReturnType<typeof apiClient>;

    beforeAll(async () => {
      const prepared = await configuration.prepare();
      cleanup = prepared.cleanup;
      databaseUrl = prepared.env.DATABASE_URL;
      app = await startPaymentsApp(prepared.env);
      api = apiClient(app.url, 'm1');
    }, 60_000);
    afterAll(async () => {
      await app?.close();
      await cleanup?.();
    });

    const timed = async <T>(work: () => PromiseLike<T>): Promise<[T, number]> => {
      const started = Date.now();
      const result = await work();
      return [result, Date.now() - started];
    };
    // A generous per-request bound, so a request that hangs on the lock fails the test instead of stalling it.
    const pay = (customerId: string, key = randomUUID(), reference = `ref-${randomUUID()}`) =>
      api.post('/payments', { customerId, amount: 100, currency: 'EUR', reference }, key).timeout({ response: 15_000 });

    it("answers that customer's payments 503 with Retry-After within the lock bound, serves the others, and runs the same key once the lock is gone", async () => {
      const locked = await api.createCustomer(10_000, 'Locked');
      const free = await api.createCustomer(10_000, 'Free');
      const key = randomUUID();
      const reference = `ref-${randomUUID()}`;
      const lock = await holdCustomerRowLock(databaseUrl, locked.id);
      let released = false;
      try {
        // Several of the locked customer's payments at once, each holding a pooled connection while it waits.
        const blockedRuns = Promise.all([
          timed(() => pay(locked.id, key, reference)),
          ...Array.from({ length: 7 }, () => timed(() => pay(locked.id))),
        ]);
        await new Promise((resolve) => setTimeout(resolve, 200));
        const [[other, otherMs], [health, healthMs]] = await Promise.all([
          timed(() => pay(free.id)),
          timed(() => request(app.url).get('/health').timeout({ response: 15_000 })),
        ]);
        const blocked = await blockedRuns;

        for (const [res, ms] of blocked) {
          expect(res.status).toBe(503);
          expect(res.body).toEqual({ statusCode: 503, error: 'Service Unavailable', message: expect.any(String) });
          expect(res.headers['retry-after']).toMatch(/^[1-9]\d*$/);
          expect(ms).toBeLessThan(LOCKED_ANSWER_BOUND_MS);
        }
        expect(other.status).toBe(201);
        expect(otherMs).toBeLessThan(OTHER_CUSTOMER_TARGET_MS);
        expect(health.status).toBe(200);
        expect(healthMs).toBeLessThan(OTHER_CUSTOMER_TARGET_MS);
        console.log(
          `${configuration.name}: locked customer answered ${blocked.map(([res, ms]) => `${res.status}/${ms}ms`).join(' ')}; ` +
            `other customer 201 in ${otherMs} ms; /health ${health.status} in ${healthMs} ms`,
        );

        await lock.release();
        released = true;
        // The 503 released the key: the same request runs now, once.
        const retried = await pay(locked.id, key, reference);
        expect(retried.status).toBe(201);
        expect(retried.headers['idempotent-replayed']).toBeUndefined();
        expect((await pay(locked.id, key, reference)).headers['idempotent-replayed']).toBe('true');
        expect((await api.get(`/customers/${locked.id}`)).body.balance).toBe(10_000 - 100);
      } finally {
        if (!released) await lock.release();
      }
    }, 60_000);
  });
}
