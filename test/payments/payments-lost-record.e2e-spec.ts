import { randomUUID } from 'node:crypto';
import Redis from 'ioredis';
import { DataSource } from 'typeorm';
import { Customer } from '../../apps/payments/src/customers/customer.entity';
import { Payment } from '../../apps/payments/src/payments/payment.entity';
import { Refund } from '../../apps/payments/src/payments/refund.entity';
import { describeWithServices, TEST_SERVICES } from '../support/services';
import { PAYMENTS_CONFIGURATIONS } from './payment-configurations';
import { apiClient, PaymentsApp, startPaymentsApp } from './payments-harness';

/**
 * Lost records: with a store outside the database an idempotency record can be lost (a Redis restarted
 * empty, an expired TTL, an eviction) while the row it made stays. The retry then runs the handler again; the
 * row's unique key (a customer's or refund's request key, a payment's reference) finds the row, and the
 * client gets it back as the first answer gave it, created once.
 */
for (const configuration of PAYMENTS_CONFIGURATIONS.filter((candidate) => candidate.name.includes('Redis store'))) {
  describeWithServices(configuration.services, `a lost idempotency record, on ${configuration.name}`, () => {
    let app: PaymentsApp;
    let cleanup: () => Promise<void>;
    let api: ReturnType<typeof apiClient>;
    let redis: Redis;
    let dataSource: DataSource;

    beforeAll(async () => {
      const prepared = await configuration.prepare();
      cleanup = prepared.cleanup;
      app = await startPaymentsApp(prepared.env);
      api = apiClient(app.url);
      dataSource = app.app!.get(DataSource);
      redis = new Redis(TEST_SERVICES.redis);
    }, 60_000);
    afterAll(async () => {
      redis?.disconnect();
      await app?.close();
      await cleanup?.();
    });

    /** Deletes the record(s) stored for `key` (a fresh UUID, so only this test's own Redis keys match). */
    async function loseRecord(key: string): Promise<void> {
      const found: string[] = [];
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `*${key}*`, 'COUNT', 1000);
        found.push(...keys);
        cursor = next;
      } while (cursor !== '0');
      expect(found.length).toBeGreaterThan(0);
      await redis.del(...found);
    }

    it('answers a retried POST /customers with the customer it created: same id, same opening balance, one row', async () => {
      const key = randomUUID();
      const first = await api.post('/customers', { name: 'Lin', balance: 4_000 }, key);
      expect(first.status).toBe(201);
      // Spend some of it, so the retry must answer with what the creation said, not what the row says now.
      await api.post(
        '/payments',
        { customerId: first.body.id, amount: 1_500, currency: 'EUR', reference: `lost-${key}` },
        randomUUID(),
      );
      await loseRecord(key);

      const retry = await api.post('/customers', { name: 'Lin', balance: 4_000 }, key);
      expect(retry.status).toBe(201);
      expect(retry.headers['idempotent-replayed']).toBeUndefined(); // it ran again, and found its row
      expect(retry.body).toEqual(first.body);
      expect(await dataSource.getRepository(Customer).countBy({ requestKey: key })).toBe(1);
      expect((await api.get(`/customers/${first.body.id}`)).body.balance).toBe(2_500);

      // And now the record is back: the next retry is a replay.
      expect((await api.post('/customers', { name: 'Lin', balance: 4_000 }, key)).headers['idempotent-replayed']).toBe(
        'true',
      );
    });

    it('answers 409 to a retried POST /customers whose body changed once the record is lost', async () => {
      const key = randomUUID();
      expect((await api.post('/customers', { name: 'Lin', balance: 4_000 }, key)).status).toBe(201);
      await loseRecord(key);
      const changed = await api.post('/customers', { name: 'Lin', balance: 4_001 }, key);
      expect(changed.status).toBe(409);
      expect(changed.body).toMatchObject({ statusCode: 409, error: 'Conflict' });
      expect(await dataSource.getRepository(Customer).countBy({ requestKey: key })).toBe(1);
    });

    it('answers a retried payment with the original payment, debited once', async () => {
      const customer = await api.createCustomer(1_000);
      const key = randomUUID();
      const body = { customerId: customer.id, amount: 300, currency: 'EUR', reference: `lost-${key}` };
      const first = await api.post('/payments', body, key);
      expect(first.status).toBe(201);
      await api.post(`/payments/${first.body.id}/refunds`, { amount: 100 }, randomUUID());
      await loseRecord(key);

      const retry = await api.post('/payments', body, key);
      expect(retry.status).toBe(201);
      expect(retry.body).toEqual(first.body);
      expect(await dataSource.getRepository(Payment).countBy({ reference: body.reference })).toBe(1);
      expect((await api.get(`/customers/${customer.id}`)).body.balance).toBe(800);
    });

    it('answers a retried refund with the original refund, credited once', async () => {
      const customer = await api.createCustomer(1_000);
      const payment = (
        await api.post(
          '/payments',
          { customerId: customer.id, amount: 600, currency: 'EUR', reference: `r-${randomUUID()}` },
          randomUUID(),
        )
      ).body;
      const key = randomUUID();
      const first = await api.post(`/payments/${payment.id}/refunds`, { amount: 250 }, key);
      expect(first.status).toBe(201);
      await loseRecord(key);

      const retry = await api.post(`/payments/${payment.id}/refunds`, { amount: 250 }, key);
      expect(retry.status).toBe(201);
      expect(retry.body).toEqual(first.body);
      expect(await dataSource.getRepository(Refund).countBy({ requestKey: key })).toBe(1);
      expect((await api.get(`/payments/${payment.id}`)).body).toMatchObject({ refundedAmount: 250 });
      expect((await api.get(`/customers/${customer.id}`)).body.balance).toBe(650);

      await loseRecord(key);
      const changed = await api.post(`/payments/${payment.id}/refunds`, { amount: 251 }, key);
      expect(changed.status).toBe(409);
      expect((await api.get(`/customers/${customer.id}`)).body.balance).toBe(650);
    });
  });
}
