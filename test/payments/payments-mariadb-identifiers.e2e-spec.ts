import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { describeWithServices } from '../support/services';
import { createMariadbDatabase, PaymentsApp, startPaymentsApp } from './payments-harness';

/** Two merchants whose ids differ only in case: MariaDB's default collation took them for one. */
const SECRETS = { acme: 'sk_test_lower_acme', ACME: 'sk_test_upper_acme' } as const;

/**
 * Byte-exact identifiers: on MariaDB every identifier the app compares (merchant ids, references, request keys, ids)
 * compares byte for byte, as on PostgreSQL and SQLite: no case folding, no accent folding, no trailing-space
 * padding.
 */
describeWithServices(['mariadb'], 'payments API on MariaDB: identifiers compare byte for byte', () => {
  let app: PaymentsApp;
  let drop: () => Promise<void>;

  beforeAll(async () => {
    const database = await createMariadbDatabase();
    drop = database.drop;
    app = await startPaymentsApp({
      DATABASE_URL: database.url,
      IDEMPOTENCY_STORE: 'typeorm',
      API_KEYS: Object.entries(SECRETS)
        .map(([merchant, secret]) => `${merchant}:${secret}`)
        .join(','),
    });
  }, 60_000);
  afterAll(async () => {
    await app?.close();
    await drop?.();
  });

  const as = (merchant: keyof typeof SECRETS) => {
    const auth = { Authorization: `Bearer ${SECRETS[merchant]}` };
    return {
      post: (path: string, body: object, key: string = randomUUID()) =>
        request(app.url).post(path).set(auth).set('Idempotency-Key', key).send(body),
      get: (path: string) => request(app.url).get(path).set(auth),
    };
  };
  const acme = as('acme');
  const ACME = as('ACME');

  const newCustomer = async (balance: number) => {
    const res = await acme.post('/customers', { name: 'Lower', balance });
    expect(res.status).toBe(201);
    return res.body.id as string;
  };
  const payment = (customerId: string, reference: string, amount = 100) => ({
    customerId,
    amount,
    currency: 'EUR',
    reference,
  });

  it("keeps merchant ACME out of merchant acme's customers and payments (404), touching nothing", async () => {
    const customerId = await newCustomer(1_000);
    const paid = await acme.post('/payments', payment(customerId, `own-${randomUUID()}`));
    expect(paid.status).toBe(201);

    expect((await ACME.get(`/customers/${customerId}`)).status).toBe(404);
    expect((await ACME.get(`/payments/${paid.body.id}`)).status).toBe(404);
    const charge = await ACME.post('/payments', payment(customerId, `theirs-${randomUUID()}`));
    expect(charge.status).toBe(404);
    expect(charge.body).toMatchObject({ statusCode: 404, error: 'Not Found' });
    const refund = await ACME.post(`/payments/${paid.body.id}/refunds`, { amount: 50 });
    expect(refund.status).toBe(404);

    expect((await acme.get(`/customers/${customerId}`)).body.balance).toBe(900);
    expect((await acme.get(`/payments/${paid.body.id}`)).body).toMatchObject({
      refundedAmount: 0,
      status: 'succeeded',
    });
  });

  it("lets ACME use acme's reference and idempotency key for its own payment", async () => {
    const mine = await newCustomer(1_000);
    const theirs = (await ACME.post('/customers', { name: 'Upper', balance: 1_000 })).body.id as string;
    const key = randomUUID();
    const reference = `shared-${randomUUID()}`;
    const first = await acme.post('/payments', payment(mine, reference), key);
    const second = await ACME.post('/payments', payment(theirs, reference), key);
    expect([first.status, second.status]).toEqual([201, 201]);
    expect(second.headers['idempotent-replayed']).toBeUndefined();
    expect(second.body.id).not.toBe(first.body.id);
  });

  it("takes 'Own-1', 'own-1 ' and 'öwn-1' for references other than 'own-1': four payments, four debits", async () => {
    const customerId = await newCustomer(1_000);
    const suffix = randomUUID().slice(0, 8);
    const references = [`own-1${suffix}`, `Own-1${suffix}`, `öwn-1${suffix}`, `own-1${suffix} `];
    const answers = [];
    for (const reference of references) answers.push(await acme.post('/payments', payment(customerId, reference)));
    expect(answers.map((res) => res.status)).toEqual([201, 201, 201, 201]);
    expect(new Set(answers.map((res) => res.body.id)).size).toBe(4);
    expect(answers.map((res) => res.body.reference)).toEqual(references);
    expect((await acme.get(`/customers/${customerId}`)).body.balance).toBe(600);
  });

  it("takes 'own-1 ' (trailing space) for a reference of its own when 'own-1' came first with other parameters", async () => {
    const customerId = await newCustomer(1_000);
    const reference = `pad-${randomUUID().slice(0, 8)}`;
    expect((await acme.post('/payments', payment(customerId, reference, 100))).status).toBe(201);
    expect((await acme.post('/payments', payment(customerId, `${reference} `, 200))).status).toBe(201);
    expect((await acme.post('/payments', payment(customerId, `${reference}  `, 300))).status).toBe(201);
    expect((await acme.get(`/customers/${customerId}`)).body.balance).toBe(400);
  });

  it('makes two refunds of two keys that differ only in case', async () => {
    const customerId = await newCustomer(1_000);
    const paid = (await acme.post('/payments', payment(customerId, `r-${randomUUID()}`, 500))).body;
    const key = `refund-${randomUUID().slice(0, 8)}-a`;
    const lower = await acme.post(`/payments/${paid.id}/refunds`, { amount: 100 }, key);
    const upper = await acme.post(`/payments/${paid.id}/refunds`, { amount: 100 }, key.toUpperCase());
    expect([lower.status, upper.status]).toEqual([201, 201]);
    expect(upper.body.id).not.toBe(lower.body.id);
    expect((await acme.get(`/payments/${paid.id}`)).body).toMatchObject({ refundedAmount: 200 });
    expect((await acme.get(`/customers/${customerId}`)).body.balance).toBe(700);
  });

  it('makes two customers of two keys that differ only in case', async () => {
    const key = `customer-${randomUUID().slice(0, 8)}-a`;
    const lower = await acme.post('/customers', { name: 'Same', balance: 10 }, key);
    const upper = await acme.post('/customers', { name: 'Same', balance: 10 }, key.toUpperCase());
    expect([lower.status, upper.status]).toEqual([201, 201]);
    expect(upper.body.id).not.toBe(lower.body.id);
  });
});
