import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { prometheusSamples } from '../support/prometheus-text';
import { describeWithServices } from '../support/services';
import { PAYMENTS_CONFIGURATIONS } from './payment-configurations';
import { DataSource } from 'typeorm';
import { Customer } from '../../apps/payments/src/customers/customer.entity';
import { CustomersService } from '../../apps/payments/src/customers/customers.service';
import { PaymentsService } from '../../apps/payments/src/payments/payments.service';
import { apiClient, MERCHANTS, PaymentsApp, startPaymentsApp } from './payments-harness';

for (const configuration of PAYMENTS_CONFIGURATIONS) {
  describeWithServices(configuration.services, `payments API on ${configuration.name}`, () => {
    let app: PaymentsApp;
    let cleanup: () => Promise<void>;
    let api: ReturnType<typeof apiClient>;
    let other: ReturnType<typeof apiClient>;

    beforeAll(async () => {
      const prepared = await configuration.prepare();
      cleanup = prepared.cleanup;
      app = await startPaymentsApp(prepared.env);
      api = apiClient(app.url, 'm1');
      other = apiClient(app.url, 'm2');
    }, 60_000);
    afterAll(async () => {
      await app?.close();
      await cleanup?.();
    });

    const pay = (customerId: string, amount: number, key = randomUUID(), reference = `ref-${randomUUID()}`) =>
      api.post('/payments', { customerId, amount, currency: 'EUR', reference }, key);
    const balanceOf = async (customerId: string) => (await api.get(`/customers/${customerId}`)).body.balance as number;
    const customerRowsMadeWith = (key: string) =>
      app.app!.get(DataSource).getRepository(Customer).countBy({ merchantId: 'm1', requestKey: key });

    describe('authentication', () => {
      it('answers 401 without an API key, or with an unknown one', async () => {
        const missing = await request(app.url).get(`/customers/${randomUUID()}`);
        expect(missing.status).toBe(401);
        expect(missing.body).toMatchObject({ statusCode: 401, error: 'Unauthorized' });
        const wrong = await request(app.url)
          .post('/payments')
          .set('Authorization', 'Bearer nope')
          .set('Idempotency-Key', 'k')
          .send({});
        expect(wrong.status).toBe(401);
      });

      it('serves /health, /metrics and /docs without an API key', async () => {
        const health = await request(app.url).get('/health');
        expect(health.status).toBe(200);
        expect(health.body).toMatchObject({
          status: 'ok',
          info: { database: { status: 'up' }, idempotencyStore: { status: 'up' } },
        });
        expect((await request(app.url).get('/metrics')).status).toBe(200);
        const docs = await request(app.url).get('/docs-json');
        expect(docs.status).toBe(200);
        const create = docs.body.paths['/payments'].post;
        expect(create.parameters).toEqual(
          expect.arrayContaining([expect.objectContaining({ name: 'Idempotency-Key', in: 'header' })]),
        );
        expect(Object.keys(create.responses)).toEqual(
          expect.arrayContaining(['201', '400', '401', '402', '404', '409', '422', '503']),
        );
        // Every guarded route: the key header, the replay header, Retry-After, and error bodies with a schema.
        for (const path of ['/customers', '/payments', '/payments/{id}/refunds']) {
          const { parameters, responses } = docs.body.paths[path].post;
          expect(parameters).toEqual(
            expect.arrayContaining([
              expect.objectContaining({ name: 'Idempotency-Key', in: 'header', required: true }),
            ]),
          );
          expect(Object.keys(responses['201'].headers)).toEqual(['Idempotent-Replayed']);
          expect(Object.keys(responses['409'].headers)).toEqual(['Retry-After']);
          expect(Object.keys(responses['503'].headers)).toEqual(['Retry-After']);
          for (const status of ['400', '401', '409', '422', '503']) {
            const ref: string = responses[status].content['application/json'].schema.$ref;
            const schema = docs.body.components.schemas[ref.split('/').pop()!];
            expect(Object.keys(schema.properties)).toEqual(['statusCode', 'error', 'message']);
          }
        }
        expect(docs.body.components.securitySchemes).toEqual({
          'api-key': expect.objectContaining({ type: 'http', scheme: 'bearer', bearerFormat: 'API key' }),
        });
      });
    });

    describe('customers', () => {
      it('creates a customer (201) and reads it back; another merchant gets 404', async () => {
        const created = await api.post('/customers', { name: 'Ada', balance: 5000 }, randomUUID());
        expect(created.status).toBe(201);
        expect(created.body).toEqual({ id: expect.any(String), name: 'Ada', balance: 5000 });
        expect((await api.get(`/customers/${created.body.id}`)).body).toEqual(created.body);
        const foreign = await other.get(`/customers/${created.body.id}`);
        expect(foreign.status).toBe(404);
        expect(foreign.body).toMatchObject({ statusCode: 404, error: 'Not Found' });
      });

      it.each([
        ['an empty name', { name: '', balance: 1 }],
        ['a name over 200 characters', { name: 'x'.repeat(201), balance: 1 }],
        ['a negative balance', { name: 'A', balance: -1 }],
        ['a fractional balance', { name: 'A', balance: 1.5 }],
        ['a string balance', { name: 'A', balance: '100' }],
        ['an unknown field', { name: 'A', balance: 1, admin: true }],
        ['no body', undefined],
      ])('refuses %s with 400 and leaves no idempotency record', async (_case, body) => {
        const key = randomUUID();
        const res = await api.post('/customers', body, key);
        expect(res.status).toBe(400);
        expect(res.body).toMatchObject({ statusCode: 400, error: 'Bad Request' });
        // The key is free: a corrected request with it runs.
        expect((await api.post('/customers', { name: 'Fixed', balance: 1 }, key)).status).toBe(201);
      });

      it.each([
        ['a NUL in the name', { name: 'a\u0000b', balance: 1 }, 'name must not contain the NUL character (U+0000)'],
        [
          'a lone high surrogate as the name',
          { name: '\ud800', balance: 1 },
          'name must not contain an unpaired UTF-16 surrogate (it is not valid Unicode)',
        ],
        [
          'a lone low surrogate in the name',
          { name: 'a\udc00b', balance: 1 },
          'name must not contain an unpaired UTF-16 surrogate (it is not valid Unicode)',
        ],
        [
          'a NUL in an unknown field',
          { name: 'A', balance: 1, x: '\u0000' },
          'x must not contain the NUL character (U+0000)',
        ],
      ])(
        'refuses %s with 400 naming the field, writes nothing, and leaves the key free',
        async (_case, body, message) => {
          const key = randomUUID();
          const res = await api.post('/customers', body, key);
          expect(res.status).toBe(400);
          expect(res.body).toEqual({ statusCode: 400, error: 'Bad Request', message: [message] });
          expect(await customerRowsMadeWith(key)).toBe(0);
          const fixed = await api.post('/customers', { name: 'Fixed', balance: 1 }, key);
          expect(fixed.status).toBe(201);
          expect(fixed.headers['idempotent-replayed']).toBeUndefined();
        },
      );

      it('stores names outside the BMP as sent (a surrogate pair is not refused)', async () => {
        const created = await api.post('/customers', { name: 'Ada 😀', balance: 1 }, randomUUID());
        expect(created.status).toBe(201);
        expect((await api.get(`/customers/${created.body.id}`)).body.name).toBe('Ada 😀');
      });

      it('creates one customer per key at the database, whatever the store says, and answers a retry with it', async () => {
        // What a retry does once its record is lost (a Redis restarted empty, an expired TTL): run again.
        const service = app.app!.get(CustomersService);
        const key = randomUUID();
        const runs = await Promise.all(
          Array.from({ length: 8 }, () => service.create('m1', { name: 'Grace', balance: 700 }, key)),
        );
        expect(new Set(runs.map((customer) => customer.id)).size).toBe(1);
        expect(runs.map((customer) => [customer.name, customer.balance])).toEqual(runs.map(() => ['Grace', 700]));
        expect(await customerRowsMadeWith(key)).toBe(1);
        // Spent since: a retry still answers with the opening balance, as the first request did.
        await pay(runs[0].id, 200);
        await expect(service.create('m1', { name: 'Grace', balance: 700 }, key)).resolves.toMatchObject({
          id: runs[0].id,
          balance: 700,
        });
        await expect(service.create('m1', { name: 'Grace', balance: 701 }, key)).rejects.toMatchObject({ status: 409 });
        await expect(service.create('m1', { name: 'Other', balance: 700 }, key)).rejects.toMatchObject({ status: 409 });
        // Another merchant's key space is its own.
        await expect(service.create('m2', { name: 'Grace', balance: 700 }, key)).resolves.not.toMatchObject({
          id: runs[0].id,
        });
        expect(await balanceOf(runs[0].id)).toBe(500);
      });

      it('refuses malformed JSON with 400', async () => {
        const res = await request(app.url)
          .post('/customers')
          .set('Authorization', `Bearer ${MERCHANTS.m1}`)
          .set('Idempotency-Key', randomUUID())
          .set('Content-Type', 'application/json')
          .send('{"name": "Ada", "balance": ');
        expect(res.status).toBe(400);
        expect(res.body).toMatchObject({ statusCode: 400 });
      });

      it('requires an Idempotency-Key on writes', async () => {
        const res = await api.post('/customers', { name: 'A', balance: 1 });
        expect(res.status).toBe(400);
        expect(res.body.message).toBe('The Idempotency-Key header is required on this route.');
      });

      it('answers 400 to a malformed customer id', async () => {
        expect((await api.get('/customers/not-a-uuid')).status).toBe(400);
      });
    });

    describe('payments', () => {
      it('debits the balance once and replays the same payment to a retry', async () => {
        const customer = await api.createCustomer(10_000);
        const key = randomUUID();
        const body = { customerId: customer.id, amount: 2_500, currency: 'EUR', reference: `order-${randomUUID()}` };
        const first = await api.post('/payments', body, key);
        expect(first.status).toBe(201);
        expect(first.body).toEqual({
          id: expect.any(String),
          customerId: customer.id,
          amount: 2_500,
          currency: 'EUR',
          reference: body.reference,
          status: 'succeeded',
          refundedAmount: 0,
          createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
        });
        const retry = await api.post('/payments', body, key);
        expect(retry.status).toBe(201);
        expect(retry.body).toEqual(first.body);
        expect(retry.headers['idempotent-replayed']).toBe('true');
        expect(await balanceOf(customer.id)).toBe(7_500);
        expect((await api.get(`/payments/${first.body.id}`)).body).toEqual(first.body);
        expect((await other.get(`/payments/${first.body.id}`)).status).toBe(404);
      });

      it('answers 422 to the same key with another body, charging nothing more', async () => {
        const customer = await api.createCustomer(10_000);
        const key = randomUUID();
        await pay(customer.id, 100, key, 'ref-a-' + key);
        const res = await pay(customer.id, 200, key, 'ref-a-' + key);
        expect(res.status).toBe(422);
        expect(res.body).toMatchObject({ statusCode: 422, error: 'Unprocessable Entity' });
        expect(await balanceOf(customer.id)).toBe(9_900);
      });

      it('answers 402 when the balance is too low, and replays the 402', async () => {
        const customer = await api.createCustomer(100);
        const key = randomUUID();
        const first = await pay(customer.id, 101, key, `poor-${key}`);
        expect(first.status).toBe(402);
        expect(first.body).toEqual({
          statusCode: 402,
          error: 'Payment Required',
          message: "The customer's balance does not cover 101.",
        });
        const retry = await pay(customer.id, 101, key, `poor-${key}`);
        expect(retry.status).toBe(402);
        expect(retry.headers['idempotent-replayed']).toBe('true');
        expect(await balanceOf(customer.id)).toBe(100);
      });

      it('leaves the reference of a declined payment free: the same reference, affordable, is then paid (a new key)', async () => {
        const customer = await api.createCustomer(100);
        const reference = `declined-${randomUUID()}`;
        expect((await pay(customer.id, 101, randomUUID(), reference)).status).toBe(402);
        const paid = await pay(customer.id, 100, randomUUID(), reference);
        expect(paid.status).toBe(201);
        expect(paid.body).toMatchObject({ customerId: customer.id, amount: 100, reference, status: 'succeeded' });
        expect(await balanceOf(customer.id)).toBe(0);
      });

      it('answers a used reference with the same parameters (a new key) with the original payment, debiting once', async () => {
        const customer = await api.createCustomer(1_000);
        const reference = `dup-${randomUUID()}`;
        const first = await pay(customer.id, 100, randomUUID(), reference);
        expect(first.status).toBe(201);
        await api.post(`/payments/${first.body.id}/refunds`, { amount: 30 }, randomUUID());
        const again = await pay(customer.id, 100, randomUUID(), reference);
        expect(again.status).toBe(201);
        // As the first answer was: refunds made since do not show.
        expect(again.body).toEqual(first.body);
        expect(await balanceOf(customer.id)).toBe(930);
      });

      it.each([
        ['another amount', { amount: 101 }],
        ['another currency', { currency: 'USD' }],
      ])('answers 409 to a used reference with %s, without debiting', async (_case, override) => {
        const customer = await api.createCustomer(1_000);
        const reference = `dup-${randomUUID()}`;
        expect((await pay(customer.id, 100, randomUUID(), reference)).status).toBe(201);
        const res = await api.post(
          '/payments',
          { customerId: customer.id, amount: 100, currency: 'EUR', reference, ...override },
          randomUUID(),
        );
        expect(res.status).toBe(409);
        expect(res.body).toEqual({
          statusCode: 409,
          error: 'Conflict',
          message: `A payment with reference "${reference}" already exists.`,
        });
        expect(await balanceOf(customer.id)).toBe(900);
      });

      it('answers a used reference for another customer with 409', async () => {
        const [a, b] = [await api.createCustomer(1_000), await api.createCustomer(1_000)];
        const reference = `dup-${randomUUID()}`;
        expect((await pay(a.id, 100, randomUUID(), reference)).status).toBe(201);
        expect((await pay(b.id, 100, randomUUID(), reference)).status).toBe(409);
        expect([await balanceOf(a.id), await balanceOf(b.id)]).toEqual([900, 1_000]);
      });

      it('runs 10 concurrent payments with one reference and new keys once: all get the one payment, one debit', async () => {
        const customer = await api.createCustomer(1_000);
        const reference = `race-${randomUUID()}`;
        const responses = await Promise.all(
          Array.from({ length: 10 }, () => pay(customer.id, 100, randomUUID(), reference)),
        );
        expect(responses.map((res) => res.status)).toEqual(responses.map(() => 201));
        expect(new Set(responses.map((res) => res.body.id)).size).toBe(1);
        expect(await balanceOf(customer.id)).toBe(900);
      });

      it.each([
        ['a NUL in the reference', { reference: 'ref\u0000' }, 'reference must not contain the NUL character (U+0000)'],
        [
          'a lone surrogate in the reference',
          { reference: 'ref-\udfff' },
          'reference must not contain an unpaired UTF-16 surrogate (it is not valid Unicode)',
        ],
        ['a NUL in the currency', { currency: 'EU\u0000' }, 'currency must not contain the NUL character (U+0000)'],
      ])('refuses %s with 400 naming the field, and debits nothing', async (_case, override, message) => {
        const customer = await api.createCustomer(1_000);
        const key = randomUUID();
        const body = { customerId: customer.id, amount: 10, currency: 'EUR', reference: `r-${randomUUID()}` };
        const res = await api.post('/payments', { ...body, ...override }, key);
        expect(res.status).toBe(400);
        expect(res.body).toEqual({ statusCode: 400, error: 'Bad Request', message: [message] });
        expect(await balanceOf(customer.id)).toBe(1_000);
        expect((await api.post('/payments', body, key)).status).toBe(201);
      });

      it('lets two merchants use one reference', async () => {
        const mine = await api.createCustomer(1_000);
        const theirs = await other.createCustomer(1_000);
        const reference = `shared-${randomUUID()}`;
        expect((await pay(mine.id, 10, randomUUID(), reference)).status).toBe(201);
        const res = await other.post(
          '/payments',
          { customerId: theirs.id, amount: 10, currency: 'EUR', reference },
          randomUUID(),
        );
        expect(res.status).toBe(201);
      });

      it("answers 404 to another merchant's customer, without debiting it", async () => {
        const theirs = await other.createCustomer(1_000);
        expect((await pay(theirs.id, 10)).status).toBe(404);
        expect((await other.get(`/customers/${theirs.id}`)).body.balance).toBe(1_000);
      });

      it.each([
        ['amount 0', { amount: 0 }],
        ['a negative amount', { amount: -5 }],
        ['a fractional amount', { amount: 1.25 }],
        ['a lower-case currency', { currency: 'eur' }],
        ['a four-letter currency', { currency: 'EURO' }],
        ['an empty reference', { reference: '' }],
        ['a 65-character reference', { reference: 'r'.repeat(65) }],
        ['a customer id that is not a UUID', { customerId: 'abc' }],
        ['an unknown field', { note: 'hi' }],
      ])('refuses %s with 400 and debits nothing', async (_case, override) => {
        const customer = await api.createCustomer(1_000);
        const body = {
          customerId: customer.id,
          amount: 10,
          currency: 'EUR',
          reference: `r-${randomUUID()}`,
          ...override,
        };
        const res = await api.post('/payments', body, randomUUID());
        expect(res.status).toBe(400);
        expect(res.body).toMatchObject({ statusCode: 400, error: 'Bad Request' });
        expect(await balanceOf(customer.id)).toBe(1_000);
      });

      it('runs 20 identical concurrent payments once: one payment, one debit', async () => {
        const customer = await api.createCustomer(1_000);
        const key = randomUUID();
        const reference = `same-${key}`;
        const responses = await Promise.all(Array.from({ length: 20 }, () => pay(customer.id, 100, key, reference)));
        const statuses = responses.map((res) => res.status);
        expect(statuses.every((status) => status === 201 || status === 409)).toBe(true);
        const created = responses.filter((res) => res.status === 201);
        expect(new Set(created.map((res) => res.body.id)).size).toBe(1);
        for (const conflict of responses.filter((res) => res.status === 409)) {
          expect(conflict.headers['retry-after']).toBeDefined();
        }
        expect(await balanceOf(customer.id)).toBe(900);
      });

      it('lets exactly 20 of 50 concurrent payments through when the balance covers 20', async () => {
        const customer = await api.createCustomer(20 * 37);
        const responses = await Promise.all(Array.from({ length: 50 }, () => pay(customer.id, 37)));
        const statuses = responses.map((res) => res.status).sort();
        expect(statuses.filter((status) => status === 201)).toHaveLength(20);
        expect(statuses.filter((status) => status === 402)).toHaveLength(30);
        expect(await balanceOf(customer.id)).toBe(0);
      });
    });

    describe('refunds', () => {
      it('credits the balance, never beyond the payment, and replays a retried refund', async () => {
        const customer = await api.createCustomer(1_000);
        const payment = (await pay(customer.id, 600)).body;
        const key = randomUUID();
        const refund = await api.post(`/payments/${payment.id}/refunds`, { amount: 200 }, key);
        expect(refund.status).toBe(201);
        expect(refund.body).toEqual({
          id: expect.any(String),
          paymentId: payment.id,
          amount: 200,
          createdAt: expect.any(String),
        });
        const retry = await api.post(`/payments/${payment.id}/refunds`, { amount: 200 }, key);
        expect(retry.body).toEqual(refund.body);
        expect(retry.headers['idempotent-replayed']).toBe('true');
        expect(await balanceOf(customer.id)).toBe(600);
        expect((await api.get(`/payments/${payment.id}`)).body).toMatchObject({
          status: 'partially_refunded',
          refundedAmount: 200,
        });

        const tooMuch = await api.post(`/payments/${payment.id}/refunds`, { amount: 401 }, randomUUID());
        expect(tooMuch.status).toBe(400);
        expect(tooMuch.body).toMatchObject({ statusCode: 400, error: 'Bad Request' });
        expect((await api.post(`/payments/${payment.id}/refunds`, { amount: 400 }, randomUUID())).status).toBe(201);
        expect((await api.get(`/payments/${payment.id}`)).body).toMatchObject({
          status: 'refunded',
          refundedAmount: 600,
        });
        expect(await balanceOf(customer.id)).toBe(1_000);
      });

      it('applies one refund per key at the database, whatever the store says, and answers a retry with it', async () => {
        // What a retry after a crash in the window would do with a store outside the database: run again.
        const customer = await api.createCustomer(1_000);
        const payment = (await pay(customer.id, 500)).body;
        const service = app.app!.get(PaymentsService);
        const key = randomUUID();
        const runs = await Promise.all(
          Array.from({ length: 6 }, () => service.refund('m1', payment.id, { amount: 100 }, key)),
        );
        expect(new Set(runs.map((refund) => refund.id)).size).toBe(1);
        await expect(service.refund('m1', payment.id, { amount: 100 }, key)).resolves.toMatchObject({
          id: runs[0].id,
          amount: 100,
        });
        await expect(service.refund('m1', payment.id, { amount: 99 }, key)).rejects.toMatchObject({ status: 409 });
        const otherPayment = (await pay(customer.id, 100)).body;
        await expect(service.refund('m1', otherPayment.id, { amount: 100 }, key)).rejects.toMatchObject({
          status: 409,
        });
        expect(await balanceOf(customer.id)).toBe(500);
        expect((await api.get(`/payments/${payment.id}`)).body).toMatchObject({ refundedAmount: 100 });
      });

      it("answers 404 to a refund of another merchant's payment, and 400 to a bad amount", async () => {
        const customer = await api.createCustomer(1_000);
        const payment = (await pay(customer.id, 100)).body;
        expect((await other.post(`/payments/${payment.id}/refunds`, { amount: 1 }, randomUUID())).status).toBe(404);
        expect((await api.post(`/payments/${payment.id}/refunds`, { amount: 0 }, randomUUID())).status).toBe(400);
        expect((await api.post(`/payments/${randomUUID()}/refunds`, { amount: 1 }, randomUUID())).status).toBe(404);
      });

      it("treats one key sent to two payments' refund routes as a mismatch (422)", async () => {
        const customer = await api.createCustomer(1_000);
        const a = (await pay(customer.id, 100)).body;
        const b = (await pay(customer.id, 100)).body;
        const key = randomUUID();
        expect((await api.post(`/payments/${a.id}/refunds`, { amount: 10 }, key)).status).toBe(201);
        expect((await api.post(`/payments/${b.id}/refunds`, { amount: 10 }, key)).status).toBe(422);
      });

      it('never over-refunds under 20 concurrent refunds', async () => {
        const customer = await api.createCustomer(1_000);
        const payment = (await pay(customer.id, 500)).body;
        const responses = await Promise.all(
          Array.from({ length: 20 }, () => api.post(`/payments/${payment.id}/refunds`, { amount: 100 }, randomUUID())),
        );
        expect(responses.filter((res) => res.status === 201)).toHaveLength(5);
        expect(responses.filter((res) => res.status === 400)).toHaveLength(15);
        expect(await balanceOf(customer.id)).toBe(1_000);
      });
    });

    describe('metrics', () => {
      it('counts outcomes per route and exposes the duplicate and collision rates', async () => {
        const customer = await api.createCustomer(1_000);
        const key = randomUUID();
        await pay(customer.id, 1, key, `m-${key}`);
        await pay(customer.id, 1, key, `m-${key}`);
        await pay(customer.id, 2, key, `m-${key}`);
        const text = (await request(app.url).get('/metrics')).text;
        const route = { idempotency_route: 'POST /payments' };
        // The library's own instruments carry its scope name; the two rates are the app's.
        const library = { ...route, idempotency_transport: 'http', otel_scope_name: '@nest-idempotency/core' };
        const value = (name: string, labels: Record<string, string>) => prometheusSamples(text, name, labels)[0]?.value;
        const requests = (outcome: string) =>
          value('idempotency_requests_total', { ...library, idempotency_outcome: outcome });
        expect(requests('replayed')).toBeGreaterThan(0);
        expect(requests('mismatch')).toBeGreaterThan(0);
        expect(value('idempotency_key_mismatches_total', library)).toBeGreaterThan(0);
        expect(value('idempotency_acquire_duration_bucket', { ...library, le: '0.001' })).toEqual(expect.any(Number));
        expect(value('idempotency_acquire_duration_count', library)).toBeGreaterThan(0);
        for (const ratio of ['idempotency_duplicate_request_ratio', 'idempotency_key_collision_ratio']) {
          expect(value(ratio, route)).toBeGreaterThan(0);
          expect(value(ratio, route)).toBeLessThan(1);
        }
      });
    });
  });
}
