import { randomUUID } from 'node:crypto';
import { describeWithServices, TEST_SERVICES } from '../support/services';
import { apiClient, createPostgresDatabase, PaymentsProcess, spawnPaymentsApp } from './payments-harness';

/** Two app processes behind one "load balancer" (alternating requests), sharing PostgreSQL and Redis. */
describeWithServices(['postgres', 'redis'], 'two payments instances sharing PostgreSQL + Redis', () => {
  let nodes: PaymentsProcess[] = [];
  let dropDatabase: () => Promise<void>;

  beforeAll(async () => {
    const database = await createPostgresDatabase();
    dropDatabase = database.drop;
    const env = { DATABASE_URL: database.url, IDEMPOTENCY_STORE: 'redis', REDIS_URL: TEST_SERVICES.redis };
    // One at a time, so the second start finds the schema migrated rather than racing the first.
    nodes.push(await spawnPaymentsApp(env));
    nodes.push(await spawnPaymentsApp(env));
  }, 120_000);
  afterAll(async () => {
    await Promise.all(nodes.map((node) => node.close()));
    nodes = [];
    await dropDatabase?.();
  });

  const clientFor = (i: number) => apiClient(nodes[i % nodes.length].url);

  it('turns 40 identical payment requests split across both into one payment and one debit', async () => {
    const customer = await clientFor(0).createCustomer(10_000);
    const key = randomUUID();
    const body = { customerId: customer.id, amount: 1_234, currency: 'EUR', reference: `multi-${key}` };
    const responses = await Promise.all(
      Array.from({ length: 40 }, (_, i) => clientFor(i).post('/payments', body, key)),
    );
    const statuses = responses.map((res) => res.status);
    expect(statuses.every((status) => status === 201 || status === 409)).toBe(true);
    const paymentIds = new Set(responses.filter((res) => res.status === 201).map((res) => res.body.id));
    expect(paymentIds.size).toBe(1);
    // Whatever each node answered while the first ran, every retry now gets that one payment.
    const retries = await Promise.all([0, 1].map((i) => clientFor(i).post('/payments', body, key)));
    for (const retry of retries) {
      expect(retry.status).toBe(201);
      expect(retry.headers['idempotent-replayed']).toBe('true');
      expect(paymentIds.has(retry.body.id)).toBe(true);
    }
    expect((await clientFor(1).get(`/customers/${customer.id}`)).body.balance).toBe(10_000 - 1_234);
  });

  it('runs 30 distinct keys at once across both: 30 debits, no false conflict', async () => {
    const customer = await clientFor(0).createCustomer(30 * 100);
    const responses = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        clientFor(i).post(
          '/payments',
          { customerId: customer.id, amount: 100, currency: 'EUR', reference: `d-${randomUUID()}` },
          randomUUID(),
        ),
      ),
    );
    expect(responses.map((res) => res.status)).toEqual(Array(30).fill(201));
    expect((await clientFor(1).get(`/customers/${customer.id}`)).body.balance).toBe(0);
  });
});
