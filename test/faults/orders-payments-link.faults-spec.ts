import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { paymentKeyFor } from '../../apps/orders/src/payments-client/payments-client';
import { ORDER_CALLERS, spawnOrdersApp } from '../orders/orders-harness';
import { MERCHANTS, PaymentsProcess } from '../payments/payments-harness';
import { TcpProxy } from '../support/tcp-proxy';
import { postJson } from './fault-client';
import { appOutputs, closeApps, createCustomers, spawnApp } from './fault-support';
import { LinkAttempt, PaymentsLink } from './payments-link';

const ORDERS = 240;
const WORKERS = 8;
const KILL_ORDERS_AT = 60;
const RESTART_PAYMENTS_AT = 150;
const ATTEMPT_TIMEOUT_MS = 800;
const DELAY_MS = 1_500;
const SETTLE_WITHIN_MS = 90_000;

/** One order the test places: one Idempotency-Key at the shop, however many POSTs it takes. */
interface PlacedOrder {
  key: string;
  body: { customerId: string; amount: number; currency: string };
  startedAt: number;
  posts: number;
  /** The shop's first 201 said `pending`: no definitive answer within the request's deadline. */
  answeredPending?: boolean;
  id?: string;
  status?: 'paid' | 'declined';
  paymentId?: string;
  settledAt?: number;
}

/**
 * The shop (apps/orders) pays through the payments app over a TCP proxy that loses answers after payments did the
 * work, holds answers past the shop's timeout and resets connections, while the shop is SIGKILLed mid-call and
 * restarted and the payments app is restarted. Both apps are separate processes on SQLite files in a temp
 * directory. Every order must end paid or declined, each paid order with exactly one payment, the balances must
 * add up, and every attempt for one order must have carried the same key and the same bytes.
 */
describe('fault: orders paying over a lossy link, the shop killed, payments restarted', () => {
  const dir = mkdtempSync(join(tmpdir(), 'orders-faults-'));
  const link = new PaymentsLink({ pass: 55, 'drop-answer': 15, 'delay-answer': 15, reset: 15 }, DELAY_MS);
  const apps: PaymentsProcess[] = [];
  let proxy: TcpProxy | undefined;
  let paymentsEnv: Record<string, string>;
  let ordersEnv: Record<string, string>;
  let ordersUrl: string;
  let openingBalances: Map<string, number>;

  beforeAll(async () => {
    const [paymentsPort, ordersPort] = [await freePort(), await freePort()];
    paymentsEnv = { DATABASE_URL: `sqlite:${join(dir, 'payments.sqlite')}`, PORT: String(paymentsPort) };
    apps.push(await spawnApp(paymentsEnv));
    openingBalances = await createCustomers(apps[0].url, [10_000_000, 10_000_000, 30_000]);
    proxy = new TcpProxy({ host: '127.0.0.1', port: paymentsPort });
    proxy.faults = link.connection;
    await proxy.start();
    ordersEnv = {
      DATABASE_URL: `sqlite:${join(dir, 'orders.sqlite')}`,
      PORT: String(ordersPort),
      PAYMENTS_URL: `http://127.0.0.1:${proxy.port}`,
      PAYMENTS_API_KEY: MERCHANTS.m1,
      PAYMENTS_ATTEMPT_TIMEOUT_MS: String(ATTEMPT_TIMEOUT_MS),
      PAYMENTS_DEADLINE_MS: '2500',
      ORDERS_RECOVERY_INTERVAL_MS: '500',
      IDEMPOTENCY_LOCK_TIMEOUT_SECONDS: '3',
    };
    apps.push(await spawnApp(ordersEnv, spawnOrdersApp));
    ordersUrl = apps[1].url;
  }, 120_000);

  afterAll(async () => {
    await closeApps(apps);
    await proxy?.close();
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it(`settles ${ORDERS} orders, each paid once or declined, with one key and one body per order`, async () => {
    const customers = [...openingBalances.keys()];
    const orders: PlacedOrder[] = Array.from({ length: ORDERS }, (_, n) => ({
      key: randomUUID(),
      body: { customerId: customers[n % customers.length], amount: 100 + ((n * 37) % 800), currency: 'EUR' },
      startedAt: 0,
      posts: 0,
    }));
    const events: string[] = [];
    let next = 0;
    let placed = 0;
    const started = Date.now();
    const elapsed = () => `${((Date.now() - started) / 1000).toFixed(1)} s`;

    const workers = Array.from({ length: WORKERS }, async () => {
      for (let n = next++; n < ORDERS; n = next++) {
        await place(orders[n]);
        placed++;
      }
    });
    const disruptions = (async () => {
      // Mid-call: a payment request has crossed the link and its answer has not come back.
      const inFlight = () => link.attempts.filter((a) => a.status === undefined && a.fault !== 'reset').length;
      await until(() => placed >= KILL_ORDERS_AT && inFlight() > 0);
      const calls = inFlight();
      apps[1].child.kill('SIGKILL');
      events.push(`${elapsed()}: shop SIGKILLed after ${placed} orders placed, ${calls} payment call(s) in flight`);
      apps[1] = await spawnApp(ordersEnv, spawnOrdersApp);
      events.push(`${elapsed()}: shop restarted`);
      await until(() => placed >= RESTART_PAYMENTS_AT);
      await apps[0].close();
      events.push(`${elapsed()}: payments stopped after ${placed} orders placed`);
      apps[0] = await spawnApp(paymentsEnv);
      events.push(`${elapsed()}: payments restarted`);
    })();
    let polling = true;
    const poller = (async () => {
      while (polling) {
        await Promise.all(orders.filter((o) => o.id && !o.status).map(poll));
        await sleep(250);
      }
    })();

    await Promise.all([...workers, disruptions]);
    events.push(`${elapsed()}: all ${ORDERS} orders placed`);
    await until(() => orders.every((o) => o.status), SETTLE_WITHIN_MS);
    polling = false;
    await poller;
    events.push(`${elapsed()}: ${orders.filter((o) => o.status).length} orders settled`);
    const unsettled = orders.filter((o) => !o.status);
    if (unsettled.length > 0) console.log(appOutputs(apps, 40));
    expect(unsettled.map((o) => o.id ?? o.key)).toEqual([]);

    // The payments app's own records, read from its database file.
    await closeApps(apps);
    const db = new Database(join(dir, 'payments.sqlite'), { readonly: true });
    const rows = db.prepare('SELECT id, customer_id, amount, reference FROM payments').all() as Array<{
      id: string;
      customer_id: string;
      amount: number;
      reference: string;
    }>;
    const balances = new Map(
      (db.prepare('SELECT id, balance FROM customers').all() as Array<{ id: string; balance: number }>).map((c) => [
        c.id,
        Number(c.balance),
      ]),
    );
    db.close();

    const violations: string[] = [];
    const byReference = group(rows, (row) => row.reference);
    const orderIds = new Set(orders.map((o) => o.id));
    for (const row of rows) if (!orderIds.has(row.reference)) violations.push(`payment ${row.id} for no order`);
    for (const order of orders) {
      const payments = byReference.get(order.id!) ?? [];
      if (order.status === 'paid' && (payments.length !== 1 || payments[0].id !== order.paymentId))
        violations.push(`order ${order.id} paid with ${order.paymentId}, payments: ${JSON.stringify(payments)}`);
      if (order.status === 'declined' && payments.length > 0)
        violations.push(`order ${order.id} declined yet paid: ${JSON.stringify(payments)}`);
      if (payments.some((p) => Number(p.amount) !== order.body.amount || p.customer_id !== order.body.customerId))
        violations.push(`order ${order.id}: a payment of another amount or customer`);
    }
    for (const [customerId, opening] of openingBalances) {
      const paid = orders
        .filter((o) => o.status === 'paid' && o.body.customerId === customerId)
        .reduce((sum, o) => sum + o.body.amount, 0);
      if (balances.get(customerId) !== opening - paid)
        violations.push(`customer ${customerId}: balance ${balances.get(customerId)} ≠ ${opening} − paid ${paid}`);
    }

    // What crossed the link, per order: one key (its own), one body, nothing after a definitive 4xx it received.
    const attempts = group(link.attempts, (attempt) => attempt.reference ?? '');
    const keyOwners = new Map<string, string>();
    for (const order of orders) {
      const sent = attempts.get(order.id!) ?? [];
      if (sent.length === 0) violations.push(`order ${order.id}: no payment attempt crossed the link`);
      const keys = new Set(sent.map((a) => a.key));
      const bodies = new Set(sent.map((a) => a.bodySha256));
      if (keys.size !== 1 || bodies.size !== 1)
        violations.push(`order ${order.id}: ${keys.size} keys and ${bodies.size} bodies over ${sent.length} attempts`);
      for (const key of keys) {
        if (key !== paymentKeyFor(order.id!)) violations.push(`order ${order.id}: key ${key} is not its derived key`);
        if (keyOwners.has(key!) && keyOwners.get(key!) !== order.id) violations.push(`key ${key} used by two orders`);
        keyOwners.set(key!, order.id!);
      }
      // Only an answer the shop received counts: passed on, before its attempt timed out.
      const refusal = sent.findIndex(
        (a) => a.fault === 'pass' && a.answeredAt! - a.at < ATTEMPT_TIMEOUT_MS && isFinalRefusal(a),
      );
      if (refusal >= 0 && refusal < sent.length - 1)
        violations.push(`order ${order.id}: ${sent.length - 1 - refusal} attempt(s) after a ${sent[refusal].status}`);
    }

    const perOrder = orders.map((o) => (attempts.get(o.id!) ?? []).length);
    const toDefinitive = orders.map((o) => o.settledAt! - o.startedAt);
    console.log(
      [
        `── orders over a lossy link (${ORDERS} orders, ${WORKERS} at a time)`,
        ...events.map((event) => `   ${event}`),
        `   outcomes: paid ${orders.filter((o) => o.status === 'paid').length}, declined ${orders.filter((o) => o.status === 'declined').length}; answered pending, settled later by the recovery loop: ${orders.filter((o) => o.answeredPending).length}`,
        `   link: ${link.attempts.length} payment attempts; faults ${JSON.stringify(link.counts)}`,
        `   attempts per order: ${distribution(perOrder)}; histogram ${histogram(perOrder)}`,
        `   time to a definitive state (ms): ${distribution(toDefinitive)}; of the orders answered pending: ${distribution(orders.filter((o) => o.answeredPending).map((o) => o.settledAt! - o.startedAt))}`,
        `   POST /orders per order (the test's own retries): ${distribution(orders.map((o) => o.posts))}`,
        `   payments rows ${rows.length}; violations ${violations.length}`,
        ...violations.slice(0, 20).map((v) => `   VIOLATION: ${v}`),
      ].join('\n'),
    );
    expect(violations).toEqual([]);
    expect(orders.filter((o) => o.status === 'declined').length).toBeGreaterThan(0);
    expect(link.counts['drop-answer']).toBeGreaterThan(0);
  }, 240_000);

  /** POSTs the order with its one key until the shop answers 201 (a 5xx, a 409 or no answer: again). */
  async function place(order: PlacedOrder): Promise<void> {
    order.startedAt = Date.now();
    const headers = { authorization: `Bearer ${ORDER_CALLERS.shop}`, 'idempotency-key': order.key };
    while (Date.now() - order.startedAt < SETTLE_WITHIN_MS) {
      order.posts++;
      const answer = await postJson(ordersUrl, '/orders', order.body, headers, 15_000).catch(() => undefined);
      if (answer?.status === 201) {
        order.id = answer.body.id;
        if (answer.body.status !== 'pending') settled(order, answer.body);
        else order.answeredPending = true;
        return;
      }
      if (answer && answer.status < 500 && answer.status !== 409)
        throw new Error(`POST /orders answered ${answer.status}: ${JSON.stringify(answer.body)}`);
      await sleep(200 + Math.random() * 200);
    }
    throw new Error(`order ${order.key} not placed within ${SETTLE_WITHIN_MS} ms`);
  }

  async function poll(order: PlacedOrder): Promise<void> {
    try {
      const response = await fetch(`${ordersUrl}/orders/${order.id}`, {
        headers: { authorization: `Bearer ${ORDER_CALLERS.shop}` },
        signal: AbortSignal.timeout(3_000),
      });
      const body = (await response.json()) as { status: string; paymentId?: string };
      if (response.status === 200 && body.status !== 'pending') settled(order, body);
    } catch {
      // the shop is restarting: next round
    }
  }
});

function settled(order: PlacedOrder, body: { status: string; paymentId?: string }): void {
  order.status = body.status as PlacedOrder['status'];
  order.paymentId = body.paymentId;
  order.settledAt = Date.now();
}

/** A 4xx after which the shop must not ask again: anything but 409 (in progress) and 429. */
function isFinalRefusal(attempt: LinkAttempt): boolean {
  return (
    attempt.status !== undefined &&
    attempt.status >= 400 &&
    attempt.status < 500 &&
    ![409, 429].includes(attempt.status)
  );
}

async function until(condition: () => boolean, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition() && Date.now() < deadline) await sleep(50);
}

function group<T>(items: T[], by: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) groups.set(by(item), [...(groups.get(by(item)) ?? []), item]);
  return groups;
}

function distribution(values: number[]): string {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  return `min ${sorted[0]}, median ${at(0.5)}, p95 ${at(0.95)}, max ${sorted[sorted.length - 1]}`;
}

function histogram(values: number[]): string {
  const counts = group(values, String);
  return [...counts.keys()]
    .sort((a, b) => Number(a) - Number(b))
    .map((value) => `${value}×${counts.get(value)!.length}`)
    .join(' ');
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject).listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
