import { randomUUID } from 'node:crypto';
import { describeWithServices, TEST_SERVICES } from '../support/services';
import { apiClient, createSqliteFile, PaymentsApp, startPaymentsApp } from './payments-harness';

/** A client whose retry arrives after a deploy still gets its payment, not a second one. */
describe.each([
  ['the TypeORM store on an SQLite file', [] as const, {}],
  ['the Redis store', ['redis'] as const, { IDEMPOTENCY_STORE: 'redis', REDIS_URL: TEST_SERVICES.redis }],
])('a replay survives an app restart with %s', (_name, services, storeEnv) => {
  describeWithServices([...services], 'restart', () => {
    const file = createSqliteFile();
    const env = { DATABASE_URL: file.url, ...storeEnv };
    let app: PaymentsApp | undefined;
    afterAll(async () => {
      await app?.close();
      file.remove();
    });

    it('replays the payment made before the restart, and does not debit again', async () => {
      app = await startPaymentsApp(env);
      const customer = await apiClient(app.url).createCustomer(1_000);
      const key = randomUUID();
      const body = { customerId: customer.id, amount: 250, currency: 'EUR', reference: `restart-${key}` };
      const first = await apiClient(app.url).post('/payments', body, key);
      expect(first.status).toBe(201);
      await app.close();

      app = await startPaymentsApp(env);
      const retry = await apiClient(app.url).post('/payments', body, key);
      expect(retry.status).toBe(201);
      expect(retry.headers['idempotent-replayed']).toBe('true');
      expect(retry.body).toEqual(first.body);
      expect((await apiClient(app.url).get(`/customers/${customer.id}`)).body.balance).toBe(750);
    });
  });
});
