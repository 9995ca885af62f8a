import type { MockInstance } from 'vitest';
import { randomUUID } from 'node:crypto';
import { Logger } from '@nestjs/common';
import request from 'supertest';
import { IDEMPOTENCY_DEFAULT_KEY_PREFIX, IdempotencyStore } from '@nest-idempotency/core';
import { describeWithServices } from '../support/services';
import { PAYMENTS_CONFIGURATIONS } from './payment-configurations';
import { apiClient, createSqliteFile, MERCHANTS, PaymentsApp, startPaymentsApp } from './payments-harness';

const ADMIN_KEY = 'adm_test_0123456789abcdef';
const PROBLEM_JSON = /^application\/problem\+json/;

/** The configurations the admin routes are proven on: the embedded database, and PostgreSQL with Redis. */
const CONFIGURATIONS = PAYMENTS_CONFIGURATIONS.filter(({ name }) =>
  ['SQLite + TypeORM store', 'PostgreSQL + Redis store'].includes(name),
);

describe('payments admin routes without ADMIN_API_KEY', () => {
  let app: PaymentsApp;
  let remove: () => void;

  beforeAll(async () => {
    const file = createSqliteFile();
    remove = file.remove;
    app = await startPaymentsApp({ DATABASE_URL: file.url, IDEMPOTENCY_STORE: 'memory' });
  }, 60_000);
  afterAll(async () => {
    await app?.close();
    remove?.();
  });

  it('do not exist: 404 whatever the caller sends, and nothing in the API docs', async () => {
    for (const method of ['get', 'delete'] as const) {
      const route = () => request(app.url)[method]('/admin/idempotency/m1/some-key');
      expect((await route().set('X-Admin-Key', ADMIN_KEY)).status).toBe(404);
      expect((await route().set('Authorization', `Bearer ${MERCHANTS.m1}`)).status).toBe(404);
    }
    const docs = await request(app.url).get('/docs-json').expect(200);
    expect(Object.keys(docs.body.paths).filter((path) => path.startsWith('/admin'))).toEqual([]);
    expect(Object.keys(docs.body.components.securitySchemes)).toEqual(['api-key']);
  });
});

for (const configuration of CONFIGURATIONS) {
  describeWithServices(configuration.services, `payments admin routes on ${configuration.name}`, () => {
    let app: PaymentsApp;
    let cleanup: () => Promise<void>;
    let m1: ReturnType<typeof apiClient>;
    let m2: ReturnType<typeof apiClient>;
    const audit: string[] = [];
    let logSpy: MockInstance;

    beforeAll(async () => {
      const prepared = await configuration.prepare();
      cleanup = prepared.cleanup;
      app = await startPaymentsApp({ ...prepared.env, ADMIN_API_KEY: ADMIN_KEY });
      m1 = apiClient(app.url, 'm1');
      m2 = apiClient(app.url, 'm2');
      // Audit lines are logged at level log, which the test app's logger leaves out: read them at the source.
      logSpy = vi.spyOn(Logger.prototype, 'log').mockImplementation(function (this: Logger, message: unknown) {
        if ((this as unknown as { context?: string }).context === 'Audit') audit.push(String(message));
      });
    }, 60_000);
    afterAll(async () => {
      logSpy?.mockRestore();
      await app?.close();
      await cleanup?.();
    });
    beforeEach(() => (audit.length = 0));

    const admin = {
      get: (merchant: string, key: string) =>
        request(app.url)
          .get(`/admin/idempotency/${merchant}/${encodeURIComponent(key)}`)
          .set('X-Admin-Key', ADMIN_KEY),
      delete: (merchant: string, key: string, query = '') =>
        request(app.url)
          .delete(`/admin/idempotency/${merchant}/${encodeURIComponent(key)}${query}`)
          .set('X-Admin-Key', ADMIN_KEY),
    };
    const paymentBody = (customerId: string, reference = `ref-${randomUUID()}`) => ({
      customerId,
      amount: 250,
      currency: 'EUR',
      reference,
    });

    it('refuses a missing or wrong admin key, and a merchant key, with 401 (and audits it)', async () => {
      const path = '/admin/idempotency/m1/any-key';
      for (const method of ['get', 'delete'] as const) {
        expect((await request(app.url)[method](path)).status).toBe(401);
        expect((await request(app.url)[method](path).set('X-Admin-Key', 'wrong-key-0123456789')).status).toBe(401);
        expect((await request(app.url)[method](path).set('X-Admin-Key', MERCHANTS.m1)).status).toBe(401);
        const bearer = await request(app.url)[method](path).set('Authorization', `Bearer ${MERCHANTS.m1}`);
        expect(bearer.status).toBe(401);
        const adminAsBearer = await request(app.url)[method](path).set('Authorization', `Bearer ${ADMIN_KEY}`);
        expect(adminAsBearer.status).toBe(401);
      }
      expect(audit).toHaveLength(10);
      expect(audit[0]).toMatch(/^idempotency inspect merchant="m1" key="any-key" result=unauthorized ip=\S+$/);
      expect(audit.join('\n')).not.toContain(MERCHANTS.m1);
    });

    it('lets the admin key open no merchant route', async () => {
      const viaHeader = await request(app.url)
        .post('/customers')
        .set('X-Admin-Key', ADMIN_KEY)
        .set('Idempotency-Key', randomUUID())
        .send({ name: 'Eve', balance: 1 });
      expect(viaHeader.status).toBe(401);
      const viaBearer = await request(app.url)
        .post('/customers')
        .set('Authorization', `Bearer ${ADMIN_KEY}`)
        .set('Idempotency-Key', randomUUID())
        .send({ name: 'Eve', balance: 1 });
      expect(viaBearer.status).toBe(401);
    });

    it("shows a completed payment's record, with the stored response, to the admin only under its merchant", async () => {
      const customer = await m1.createCustomer(10_000);
      const key = `pay-${randomUUID()}`;
      const paid = await m1.post('/payments', paymentBody(customer.id), key).expect(201);

      const res = await admin.get('m1', key).expect(200);
      expect(res.body).toEqual({
        merchantId: 'm1',
        key,
        state: 'completed',
        fingerprint: expect.stringMatching(/^[0-9a-f]{64}$/),
        expiresAt: expect.any(String),
        completedAt: expect.any(String),
        status: 201,
        stored: { status: 201, headers: expect.any(Object), body: paid.body },
      });
      for (const date of [res.body.expiresAt, res.body.completedAt]) {
        expect(new Date(date).toISOString()).toBe(date);
      }
      expect(Math.abs(new Date(res.body.completedAt).getTime() - Date.now())).toBeLessThan(10_000);
      expect(audit).toEqual([
        expect.stringMatching(`^idempotency inspect merchant="m1" key="${key}" result=completed `),
      ]);

      // Merchant m2's records are m2's: m1's key names nothing there.
      const foreign = await admin.get('m2', key).expect(404);
      expect(foreign.headers['content-type']).toMatch(PROBLEM_JSON);
      expect(foreign.body).toEqual({
        type: 'about:blank',
        title: 'Not Found',
        status: 404,
        detail: expect.any(String),
      });
      expect((await admin.delete('m2', key)).status).toBe(404);
      await admin.get('m1', key).expect(200);
      // m2 may use the same key for its own payment: its own record, shown and forgotten apart from m1's.
      const theirs = await m2.post('/payments', paymentBody((await m2.createCustomer(1_000)).id), key).expect(201);
      expect((await admin.get('m2', key).expect(200)).body.stored.body).toEqual(theirs.body);
      await admin.delete('m2', key).expect(200);
      expect((await admin.get('m1', key).expect(200)).body.stored.body).toEqual(paid.body);
    });

    it('forgets a record: the same key then runs again, and with another body makes a second payment', async () => {
      const customer = await m1.createCustomer(10_000);
      const key = `retry-${randomUUID()}`;
      const first = paymentBody(customer.id);
      const paid = await m1.post('/payments', first, key).expect(201);
      // Before forget: the same key with another body is refused, nothing charged.
      expect((await m1.post('/payments', paymentBody(customer.id), key)).status).toBe(422);

      expect((await admin.delete('m1', key).expect(200)).body).toEqual({ result: 'forgotten' });
      expect(audit).toEqual([
        expect.stringMatching(`^idempotency forget merchant="m1" key="${key}" result=forgotten `),
      ]);
      await admin.get('m1', key).expect(404);
      expect((await admin.delete('m1', key)).status).toBe(404);

      // The same request runs again (not a replay); the payment's unique reference gives the first payment back.
      const again = await m1.post('/payments', first, key).expect(201);
      expect(again.headers['idempotent-replayed']).toBeUndefined();
      expect(again.body.id).toBe(paid.body.id);
      // Forget once more: now the key carries a new reference, and a second payment is made and charged.
      await admin.delete('m1', key).expect(200);
      const second = await m1.post('/payments', paymentBody(customer.id), key).expect(201);
      expect(second.body.id).not.toBe(paid.body.id);
      expect((await m1.get(`/customers/${customer.id}`)).body.balance).toBe(10_000 - 2 * 250);
    });

    it('keeps keys that differ only in case apart', async () => {
      const customer = await m1.createCustomer(10_000);
      const key = `Case-${randomUUID()}`;
      await m1.post('/payments', paymentBody(customer.id), key).expect(201);
      await admin.get('m1', key.toLowerCase()).expect(404);
      await admin.get('m1', key.toUpperCase()).expect(404);
      expect((await admin.delete('m1', key.toLowerCase())).status).toBe(404);
      await admin.get('m1', key).expect(200);
    });

    it('answers an invalid key, merchant id or force with 400, never 500', async () => {
      const cases = [
        admin.get('m1', 'has space'),
        admin.get('m1', 'k'.repeat(256)),
        admin.get('m1', 'zażółć'),
        admin.delete('m1', 'has space'),
        admin.get('not a merchant', 'k'),
        admin.delete('m1', 'k', '?force=yes'),
      ];
      for (const res of await Promise.all(cases)) {
        expect(res.status).toBe(400);
        expect(res.body).toMatchObject({ statusCode: 400, error: 'Bad Request' });
      }
      expect(audit.filter((line) => / result=invalid_(key|merchant|force) /.test(line))).toHaveLength(6);
    });

    it('refuses to forget a running request without force (409), and forgets it with force', async () => {
      const key = `running-${randomUUID()}`;
      const customer = await m1.createCustomer(10_000);
      // A request that holds the record, as a payment still running would: acquired straight on the app's store.
      const store = app.app!.get(IdempotencyStore);
      const id = { namespace: IDEMPOTENCY_DEFAULT_KEY_PREFIX, scope: 'm1', key };
      const holder = { fingerprint: 'a'.repeat(64), token: randomUUID(), leaseMs: 30_000, ttlMs: 60_000 };
      expect(await store.acquire(id, holder)).toMatchObject({ state: 'acquired' });

      const shown = await admin.get('m1', key).expect(200);
      expect(shown.body).toEqual({
        merchantId: 'm1',
        key,
        state: 'in_flight',
        fingerprint: 'a'.repeat(64),
        leaseExpiresAt: expect.any(String),
        expiresAt: expect.any(String),
      });
      expect(Math.abs(new Date(shown.body.leaseExpiresAt).getTime() - (Date.now() + 30_000))).toBeLessThan(5_000);
      const refused = await admin.delete('m1', key).expect(409);
      expect(refused.headers['content-type']).toMatch(PROBLEM_JSON);
      expect(refused.body).toMatchObject({ type: 'about:blank', title: 'Conflict', status: 409 });
      await admin.get('m1', key).expect(200);
      expect((await admin.delete('m1', key, '?force=true').expect(200)).body).toEqual({ result: 'forgotten' });
      await admin.get('m1', key).expect(404);
      expect(audit.map((line) => /^idempotency (\w+) .* result=(\w+) /.exec(line)!.slice(1).join(' '))).toEqual([
        'inspect in_flight',
        'forget in_flight',
        'inspect in_flight',
        'forget forgotten',
        'inspect absent',
      ]);
      // The old holder is fenced out, and the key is free for the merchant again.
      expect(await store.complete(id, holder.token, '{}', 60_000)).toBe(false);
      await m1.post('/payments', paymentBody(customer.id), key).expect(201);
    });

    it('documents the routes and the admin key in the API docs', async () => {
      const docs = await request(app.url).get('/docs-json').expect(200);
      const path = docs.body.paths['/admin/idempotency/{merchantId}/{key}'];
      expect(Object.keys(path).sort()).toEqual(['delete', 'get']);
      expect(docs.body.components.securitySchemes['admin-key']).toEqual(
        expect.objectContaining({ type: 'apiKey', in: 'header', name: 'X-Admin-Key' }),
      );
    });
  });
}
