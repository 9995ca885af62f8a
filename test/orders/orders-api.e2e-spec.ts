import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { DataSource } from 'typeorm';
import { paymentKeyFor } from '../../apps/orders/src/payments-client/payments-client';
import {
  apiClient,
  createSqliteFile,
  MERCHANTS,
  PaymentsApp,
  startPaymentsApp,
  THROWAWAY_DATABASES,
} from '../payments/payments-harness';
import { isServiceAvailable, servicesAvailableFor } from '../support/services';
import { TcpProxy } from '../support/tcp-proxy';
import { OrdersApp, ordersClient, startOrdersApp } from './orders-harness';

/** The shop's own database: SQLite (its default) or PostgreSQL (DATABASE_URL), made fresh for a suite. */
const ORDERS_DATABASES = [THROWAWAY_DATABASES.sqlite, THROWAWAY_DATABASES.postgres];

/**
 * The shop against a real payments app (on an SQLite file of its own), the shop reaching payments through a TCP
 * proxy so that a test can take the link away or lose answers on it.
 */
describe.each(ORDERS_DATABASES)('orders app on $name (pays through the payments app)', ({ name, services, create }) => {
  // A describe.each row cannot be skipped by describeWithServices; a missing server skips its tests here.
  const run = servicesAvailableFor(`orders app on ${name}`, services) ? it : it.skip;
  const paymentsFile = createSqliteFile();
  let ordersDatabase: { url: string; drop: () => Promise<void> } | undefined;
  let payments: PaymentsApp;
  let proxy: TcpProxy;
  let orders: OrdersApp;
  let ordersEnv: Record<string, string>;
  let rich: string;
  let poor: string;
  const shop = () => ordersClient(orders.url);
  const merchant = () => apiClient(payments.url);

  beforeAll(async () => {
    if (!services.every(isServiceAvailable)) return;
    payments = await startPaymentsApp({ DATABASE_URL: paymentsFile.url });
    proxy = new TcpProxy({ host: '127.0.0.1', port: Number(new URL(payments.url).port) });
    await proxy.start();
    ordersDatabase = await create();
    ordersEnv = {
      DATABASE_URL: ordersDatabase.url,
      PAYMENTS_URL: `http://127.0.0.1:${proxy.port}`,
      PAYMENTS_API_KEY: MERCHANTS.m1,
      PAYMENTS_ATTEMPT_TIMEOUT_MS: '300',
      PAYMENTS_DEADLINE_MS: '1000',
      ORDERS_RECOVERY_INTERVAL_MS: '200',
      IDEMPOTENCY_LOCK_TIMEOUT_SECONDS: '5',
    };
    orders = await startOrdersApp(ordersEnv);
    rich = (await merchant().createCustomer(100_000, 'Rich')).id;
    poor = (await merchant().createCustomer(100, 'Poor')).id;
  });

  afterAll(async () => {
    await orders?.close();
    await proxy?.close();
    await payments?.close();
    await ordersDatabase?.drop();
    paymentsFile.remove();
  });

  const balanceOf = async (customerId: string) => (await merchant().get(`/customers/${customerId}`)).body.balance;

  run('places an order and pays it: 201 paid, one payment whose reference is the order id', async () => {
    const before = await balanceOf(rich);
    const res = await shop().place({ customerId: rich, amount: 2_500, currency: 'EUR' }, randomUUID());
    expect(res.status).toBe(201);
    expect(res.body).toEqual({ id: expect.any(String), status: 'paid', paymentId: expect.any(String) });
    const payment = await merchant().get(`/payments/${res.body.paymentId}`);
    expect(payment.body).toMatchObject({ customerId: rich, amount: 2_500, currency: 'EUR', reference: res.body.id });
    expect(await balanceOf(rich)).toBe(before - 2_500);
    const order = await shop().get(res.body.id);
    expect(order.status).toBe(200);
    expect(order.body).toEqual({
      id: res.body.id,
      status: 'paid',
      customerId: rich,
      amount: 2_500,
      currency: 'EUR',
      paymentId: res.body.paymentId,
    });
  });

  run('declines an order the balance does not cover (402 at payments), and charges nothing', async () => {
    const res = await shop().place({ customerId: poor, amount: 5_000, currency: 'EUR' }, randomUUID());
    expect(res.status).toBe(201);
    expect(res.body).toEqual({ id: expect.any(String), status: 'declined', declineReason: 'insufficient_funds' });
    expect((await shop().get(res.body.id)).body).toMatchObject({ status: 'declined', customerId: poor });
    expect(await balanceOf(poor)).toBe(100);
  });

  run('declines an order for a customer payments does not know (404), with the reason', async () => {
    const res = await shop().place({ customerId: randomUUID(), amount: 10, currency: 'EUR' }, randomUUID());
    expect(res.status).toBe(201);
    expect(res.body.status).toBe('declined');
    expect(res.body.declineReason).toMatch(/^payments answered 404/);
  });

  run.each([
    [{ customerId: 'nope', amount: 10, currency: 'EUR' }, 'customerId must be a UUID'],
    [{ customerId: randomUUID(), amount: 0, currency: 'EUR' }, 'amount must not be less than 1'],
    [{ customerId: randomUUID(), amount: 10, currency: 'eur' }, 'currency must be three upper-case letters'],
    [{ customerId: randomUUID(), amount: 10, currency: 'EUR', extra: 1 }, 'property extra should not exist'],
  ])('refuses a bad body %j with 400 {statusCode, error, message}', async (body, message) => {
    const res = await shop().place(body, randomUUID());
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ statusCode: 400, error: 'Bad Request', message: expect.arrayContaining([message]) });
  });

  run('refuses a request without a key or with an unknown one (401)', async () => {
    const body = { customerId: rich, amount: 10, currency: 'EUR' };
    const none = await ordersClient(orders.url).place(body, randomUUID()).unset('Authorization');
    expect(none.status).toBe(401);
    expect(none.body).toMatchObject({ statusCode: 401, error: 'Unauthorized' });
    const wrong = await ordersClient(orders.url).place(body, randomUUID()).set('Authorization', 'Bearer sk_wrong');
    expect(wrong.status).toBe(401);
  });

  run("answers 404 for another caller's order", async () => {
    const placed = await shop().place({ customerId: rich, amount: 10, currency: 'EUR' }, randomUUID());
    const res = await ordersClient(orders.url, 'kiosk').get(placed.body.id);
    expect(res.status).toBe(404);
    expect(res.body).toMatchObject({ statusCode: 404, error: 'Not Found' });
  });

  run('replays a retried POST with the same Idempotency-Key: same order, one payment; another body → 422', async () => {
    const before = await balanceOf(rich);
    const key = randomUUID();
    const body = { customerId: rich, amount: 700, currency: 'EUR' };
    const first = await shop().place(body, key);
    const again = await shop().place(body, key);
    expect(again.status).toBe(201);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.body).toEqual(first.body);
    expect(await balanceOf(rich)).toBe(before - 700);
    // Another caller's same key is another request (scope = caller).
    const kiosk = await ordersClient(orders.url, 'kiosk').place(body, key);
    expect(kiosk.status).toBe(201);
    expect(kiosk.body.id).not.toBe(first.body.id);
    expect(await balanceOf(rich)).toBe(before - 1_400);
    expect((await shop().place({ ...body, amount: 701 }, key)).status).toBe(422);
  });

  run(
    'answers pending when payments is unreachable, and the recovery loop pays the order once payments is back',
    async () => {
      const before = await balanceOf(rich);
      await proxy.cut();
      const placed = await shop().place({ customerId: rich, amount: 300, currency: 'EUR' }, randomUUID());
      expect(placed.status).toBe(201);
      expect(placed.body).toEqual({ id: expect.any(String), status: 'pending' });
      await sleep(500);
      expect((await shop().get(placed.body.id)).body.status).toBe('pending');
      await proxy.restore();
      const paid = await waitForSettled(placed.body.id);
      expect(paid).toMatchObject({ status: 'paid', paymentId: expect.any(String) });
      expect(await balanceOf(rich)).toBe(before - 300);
    },
  );

  run(
    'recovers a lost answer: payments charged, the answer never came; the loop gets the same payment back',
    async () => {
      const before = await balanceOf(rich);
      loseAnswers(true);
      const placed = await shop().place({ customerId: rich, amount: 400, currency: 'EUR' }, randomUUID());
      expect(placed.body.status).toBe('pending');
      // Charged once already, although the shop does not know it.
      expect(await balanceOf(rich)).toBe(before - 400);
      loseAnswers(false);
      const paid = await waitForSettled(placed.body.id);
      expect(paid.status).toBe('paid');
      const payment = await merchant().get(`/payments/${paid.paymentId}`);
      expect(payment.body).toMatchObject({ reference: placed.body.id, amount: 400 });
      expect(await balanceOf(rich)).toBe(before - 400);
      // The retry was a replay of the payment made under the derived key.
      const replay = await merchant().post(
        '/payments',
        { customerId: rich, amount: 400, currency: 'EUR', reference: placed.body.id },
        paymentKeyFor(placed.body.id),
      );
      expect(replay.headers['idempotent-replayed']).toBe('true');
      expect(replay.body.id).toBe(paid.paymentId);
    },
  );

  run(
    "resumes an order whose payment's idempotency record expired at payments: the reference finds the payment, charged once",
    async () => {
      const before = await balanceOf(rich);
      loseAnswers(true);
      const placed = await shop().place({ customerId: rich, amount: 450, currency: 'EUR' }, randomUUID());
      expect(placed.body.status).toBe('pending');
      // As if its 24 h retention had run out: payments no longer knows the key.
      await payments.app!.get(DataSource).query('DELETE FROM idempotency_records');
      loseAnswers(false);
      const paid = await waitForSettled(placed.body.id);
      expect(paid.status).toBe('paid');
      expect((await merchant().get(`/payments/${paid.paymentId}`)).body).toMatchObject({ reference: placed.body.id });
      expect(await balanceOf(rich)).toBe(before - 450);
    },
  );

  run('two instances on one database resume the same pending orders at once: each paid once', async () => {
    const before = await balanceOf(rich);
    loseAnswers(true);
    const placed = await Promise.all(
      [101, 102, 103, 104, 105].map((amount) =>
        shop().place({ customerId: rich, amount, currency: 'EUR' }, randomUUID()),
      ),
    );
    expect(placed.map((res) => res.body.status)).toEqual(Array(5).fill('pending'));
    const second = await startOrdersApp(ordersEnv);
    try {
      loseAnswers(false);
      const settled = await Promise.all(placed.map((res) => waitForSettled(res.body.id)));
      expect(settled.map((order) => order.status)).toEqual(Array(5).fill('paid'));
      expect(await balanceOf(rich)).toBe(before - (101 + 102 + 103 + 104 + 105));
    } finally {
      await second.close();
    }
  });

  run(
    'leaves an order pending, not declined, when payments refuses the shop itself (401); a shop with the right key pays it',
    async () => {
      const before = await balanceOf(rich);
      const misconfigured = await startOrdersApp({ ...ordersEnv, PAYMENTS_API_KEY: 'sk_not_a_merchant' });
      let placed;
      try {
        placed = await ordersClient(misconfigured.url).place(
          { customerId: rich, amount: 7, currency: 'EUR' },
          randomUUID(),
        );
      } finally {
        await misconfigured.close();
      }
      // The shop's credentials say nothing of the payment: no definitive answer, so no decline.
      expect(placed.status).toBe(201);
      expect(placed.body.status).toBe('pending');
      // This instance's recovery loop (the right key) finds it on the shared database and pays it once.
      const settled = await waitForSettled(placed.body.id);
      expect(settled.status).toBe('paid');
      expect(await balanceOf(rich)).toBe(before - 7);
    },
  );

  run('stops its recovery loop on shutdown: no payment call after close()', async () => {
    const extra = await startOrdersApp(ordersEnv);
    const placed = await ordersClient(extra.url).place({ customerId: rich, amount: 5, currency: 'EUR' }, randomUUID());
    expect(placed.body.status).toBe('paid');
    // Answers lost from now on: the order stays pending and every recovery pass calls payments again.
    loseAnswers(true);
    const pending = await ordersClient(extra.url).place({ customerId: rich, amount: 6, currency: 'EUR' }, randomUUID());
    expect(pending.body.status).toBe('pending');
    await orders.close();
    // A pass every deadline (1 s) plus the interval: a window of 2.5 s holds one.
    const before = proxy.stats.accepted;
    await sleep(2_500);
    expect(proxy.stats.accepted).toBeGreaterThan(before);
    await extra.close();
    const closed = proxy.stats.accepted;
    await sleep(1_500);
    expect(proxy.stats.accepted).toBe(closed);
    loseAnswers(false);
    orders = await startOrdersApp(ordersEnv);
    expect((await waitForSettled(pending.body.id)).status).toBe('paid');
  });

  /** Every answer from payments lost on the way back (the connection reset after payments did the work), or none. */
  function loseAnswers(lose: boolean): void {
    proxy.faults = lose ? () => ({ fromServer: () => 'reset' }) : undefined;
    proxy.resetConnections();
  }

  async function waitForSettled(id: string, timeoutMs = 10_000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const order = (await shop().get(id)).body;
      if (order.status !== 'pending' || Date.now() > deadline) return order;
      await sleep(100);
    }
  }
});
