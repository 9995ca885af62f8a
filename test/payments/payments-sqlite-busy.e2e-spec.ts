import Database from 'better-sqlite3';
import { randomUUID } from 'node:crypto';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import request from 'supertest';
import { PAYMENTS_CONFIGURATIONS } from './payment-configurations';
import { apiClient, PaymentsApp, startPaymentsApp } from './payments-harness';

const MAX_EVENT_LOOP_BLOCK_MS = 250;

/**
 * SQLite through better-sqlite3 is synchronous: while a statement waits for another process's write lock, the
 * whole event loop waits with it. The app runs in this process, so this process's event-loop delay is the app's.
 */
for (const configuration of PAYMENTS_CONFIGURATIONS.filter(
  (c) => c.name === 'SQLite + TypeORM store' || c.name === 'SQLite + memory store',
)) {
  describe(`an external writer holding the lock on ${configuration.name}`, () => {
    let app: PaymentsApp;
    let file: string;
    let cleanup: () => Promise<void>;
    let api: ReturnType<typeof apiClient>;

    beforeAll(async () => {
      const prepared = await configuration.prepare();
      cleanup = prepared.cleanup;
      file = prepared.env.DATABASE_URL.slice('sqlite:'.length);
      app = await startPaymentsApp(prepared.env);
      api = apiClient(app.url, 'm1');
    }, 60_000);
    afterAll(async () => {
      await app?.close();
      await cleanup?.();
    });

    it('answers writes 503 with Retry-After at once, never blocks the event loop for long, and runs the same key once the lock is gone', async () => {
      const customer = await api.createCustomer(10_000);
      const body = { customerId: customer.id, amount: 100, currency: 'EUR', reference: `ref-${randomUUID()}` };
      const key = randomUUID();
      // Another process's connection, as the sqlite3 shell or a second app would hold it.
      const writer = new Database(file);
      writer.exec('BEGIN IMMEDIATE');
      const delay = monitorEventLoopDelay({ resolution: 10 });
      let answers: Array<{ status: number; retryAfter: string | undefined; ms: number }>;
      try {
        delay.enable();
        answers = await Promise.all(
          [
            () => api.post('/payments', body, key),
            () => api.post('/payments', { ...body, reference: `ref-${randomUUID()}` }, randomUUID()),
            () => api.post('/customers', { name: 'Blocked', balance: 1 }, randomUUID()),
          ].map(async (send) => {
            const started = Date.now();
            const res = await send().timeout({ response: 15_000 });
            return {
              status: res.status,
              retryAfter: res.headers['retry-after'],
              ms: Date.now() - started,
              body: res.body,
            };
          }),
        );
        // Reads do not need the write lock.
        expect((await api.get(`/customers/${customer.id}`)).status).toBe(200);
      } finally {
        delay.disable();
        writer.exec('ROLLBACK');
        writer.close();
      }
      const longestBlockMs = delay.max / 1e6;
      console.log(
        `${configuration.name}: writes answered ${answers.map((a) => `${a.status}/${a.ms}ms`).join(' ')}; longest event-loop block ${longestBlockMs.toFixed(0)} ms`,
      );
      for (const answer of answers) {
        expect(answer).toMatchObject({ status: 503, retryAfter: expect.stringMatching(/^[1-9]\d*$/) });
        expect(answer.ms).toBeLessThan(1_000);
      }
      expect(longestBlockMs).toBeLessThan(MAX_EVENT_LOOP_BLOCK_MS);

      const retried = await api.post('/payments', body, key);
      expect(retried.status).toBe(201);
      expect((await api.get(`/customers/${customer.id}`)).body.balance).toBe(10_000 - 100);
      expect((await request(app.url).get('/health')).status).toBe(200);
    }, 60_000);
  });
}
