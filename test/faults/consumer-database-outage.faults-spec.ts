import { Client } from 'pg';
import { setTimeout as sleep } from 'node:timers/promises';
import { createPostgresDatabase, PaymentsProcess } from '../payments/payments-harness';
import { waitFor } from '../microservices/broker-test-support';
import { describeWithServices, TEST_SERVICES } from '../support/services';
import { TcpProxy } from '../support/tcp-proxy';
import { appOutputs, closeApps, createCustomers, spawnApp } from './fault-support';
import {
  balanceOf,
  consumerOutcomes,
  paymentRequest,
  PaymentRequestQueue,
  paymentRows,
  troubleLines,
} from './payment-requests';

// Bounded, so the suite stays short; CONSUMER_OUTAGE_SECONDS=40 gives the figures of issue 18.
const OUTAGE_SECONDS = Number(process.env.CONSUMER_OUTAGE_SECONDS ?? 12);
const MESSAGES = 5;

/**
 * The sample consumer of `payment.requested` with its PostgreSQL database (which also holds the idempotency
 * records) cut off by a TCP proxy while five messages arrive: each is refused and requeued, never acknowledged,
 * dead-lettered nor charged while the database is away; the outage takes a few log lines, not one or two per
 * delivery; once the link is back, every message is charged exactly once.
 */
describeWithServices(['postgres', 'rabbitmq'], 'fault: the payments consumer with its database cut off', () => {
  let database: { url: string; drop: () => Promise<void> } | undefined;
  let proxy: TcpProxy | undefined;
  /** Sees what the app sends to PostgreSQL, before the proxy forwards it. */
  let watch: ((sent: string) => void) | undefined;
  let queue: PaymentRequestQueue | undefined;
  let direct: Client | undefined;
  const apps: PaymentsProcess[] = [];

  beforeAll(async () => {
    database = await createPostgresDatabase();
    const url = new URL(database.url);
    proxy = new TcpProxy({ host: url.hostname, port: Number(url.port || 5432) }, (chunk) =>
      watch?.(chunk.toString('latin1')),
    );
    await proxy.start();
    url.port = String(proxy.port);
    queue = await PaymentRequestQueue.open();
    apps.push(
      await spawnApp({
        DATABASE_URL: url.toString(),
        IDEMPOTENCY_STORE: 'typeorm',
        IDEMPOTENCY_LOCK_TIMEOUT_SECONDS: '5',
        AMQP_URL: TEST_SERVICES.rabbitmq,
        AMQP_QUEUE: queue.name,
      }),
    );
    direct = new Client({ connectionString: database.url });
    await direct.connect();
  }, 90_000);

  afterAll(async () => {
    await closeApps(apps);
    await Promise.allSettled([queue?.dispose(), direct?.end(), proxy?.close()]);
    await database?.drop();
  }, 60_000);

  it(`requeues every message while the database is cut for ${OUTAGE_SECONDS} s, logs it in a few lines, then charges each once`, async () => {
    const [app] = apps;
    const [customerId] = (await createCustomers(app.url, [1_000_000])).keys();
    const before = await balanceOf(direct!, customerId);
    const requests = Array.from({ length: MESSAGES }, (_, i) => paymentRequest(customerId, 1_000 + i));
    const references = requests.map((r) => r.reference);
    const outcomesBefore = await consumerOutcomes(app.url);

    // The link goes the moment the first payment is about to be written: the five messages are in flight then,
    // some in their handler, some acquiring their record, and nothing has been charged.
    const logFrom = app.output().length;
    const cut = new Promise<void>((resolve) => {
      watch = (sent) => {
        if (!sent.includes('INSERT INTO "payments"')) return;
        watch = undefined;
        resolve(proxy!.cut());
      };
    });
    for (const data of requests) queue!.publish(data);
    await cut;
    const downFrom = Date.now();
    // A statement that reached PostgreSQL just before the reset still runs to its end (an autocommitted claim
    // commits), so the count at the cut is read once the app's cut-off sessions are gone from the server.
    await waitFor('the cut-off sessions ended', async () => (await otherSessions(direct!)) === 0, 5_000);
    const recordsAtCut = await recordsOf(direct!, references);
    let recordsAdded = 0;
    let rowsDuringOutage = 0;
    try {
      while (Date.now() - downFrom < OUTAGE_SECONDS * 1000) {
        await sleep(1_000);
        rowsDuringOutage += (await paymentRows(direct!, references)).reduce((a, b) => a + b, 0);
        recordsAdded = Math.max(recordsAdded, (await recordsOf(direct!, references)) - recordsAtCut);
      }
    } finally {
      await proxy!.restore();
    }
    const downMs = Date.now() - downFrom;
    // Printed at once, so that a run that then fails still gives the figure.
    const duringOutage = levels(troubleLines(app.output().slice(logFrom)));
    console.log(`ERROR/WARN lines while the database was cut for ${(downMs / 1000).toFixed(1)} s: ${duringOutage}`);
    const refused = (await consumerOutcomes(app.url)).store_error ?? 0;

    try {
      await waitFor(
        'every message charged',
        async () => (await paymentRows(direct!, references)).every((n) => n > 0),
        60_000,
      );
    } catch (error) {
      const { rows: sessions } = await direct!.query(
        `SELECT state, left(query, 60) AS query FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`,
      );
      console.log(
        `queue holds ${await queue!.ready()} ready messages; sessions ${JSON.stringify(sessions)}; rows ${await paymentRows(direct!, references)}; records ${await recordsOf(direct!, references)}\n${appOutputs(apps, 200)}`,
      );
      throw error;
    }
    // Let any copy still requeued come round once more: it must be replayed, not charged again.
    await waitFor('the queue drained', async () => (await queue!.ready()) === 0, 20_000);
    await sleep(3_000);
    const rows = await paymentRows(direct!, references);
    const after = await balanceOf(direct!, customerId);
    const outcomesAfter = await consumerOutcomes(app.url);
    const trouble = troubleLines(app.output().slice(logFrom));

    console.log(
      [
        `── the payments consumer, its database cut for ${(downMs / 1000).toFixed(1)} s with ${MESSAGES} messages`,
        `   deliveries refused while it was down (store_error): ${refused - (outcomesBefore.store_error ?? 0)}`,
        `   outcomes since the cut: ${JSON.stringify(difference(outcomesAfter, outcomesBefore))}`,
        `   ERROR/WARN lines while it was cut: ${duringOutage}; from the cut until all were charged: ${levels(trouble)}`,
        ...trouble.slice(0, 20).map((line) => `     ${line.slice(0, 240)}`),
        `   records in flight at the cut: ${recordsAtCut}`,
        `   payment rows per message: ${rows.join(' ')}; balance ${before} → ${after}`,
      ].join('\n'),
    );

    // Nothing charged and no record written while the database was away: the messages went back to the queue.
    expect(rowsDuringOutage).toBe(0);
    expect(recordsAdded).toBe(0);
    expect(refused - (outcomesBefore.store_error ?? 0)).toBeGreaterThanOrEqual(MESSAGES);
    // Each charged exactly once, so none was acknowledged or dead-lettered unrun.
    expect(rows).toEqual(Array(MESSAGES).fill(1));
    expect(after).toBe(before - requests.reduce((sum, r) => sum + r.amount, 0));
    // The outage in a few lines; no release deferred for a record no acquire could have written.
    expect(trouble.length).toBeLessThanOrEqual(10);
    expect(app.output()).not.toMatch(/stays in flight/);
  });
});

/** How many idempotency records the messages have, read straight from the database. */
async function recordsOf(database: Client, references: string[]): Promise<number> {
  const { rows } = await database.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM idempotency_records WHERE "key" = ANY($1)',
    [references],
  );
  return rows[0].n;
}

/** How many sessions other than this one the test database has: the app's, while its link is up. */
async function otherSessions(database: Client): Promise<number> {
  const { rows } = await database.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()',
  );
  return rows[0].n;
}

/** `12 (ERROR 8, WARN 4)` */
function levels(lines: string[]): string {
  const count = (level: string) => lines.filter((line) => line.includes(` ${level} [`)).length;
  return `${lines.length} (ERROR ${count('ERROR')}, WARN ${count('WARN')})`;
}

function difference(after: Record<string, number>, before: Record<string, number>): Record<string, number> {
  return Object.fromEntries(
    Object.entries(after)
      .map(([outcome, n]) => [outcome, n - (before[outcome] ?? 0)])
      .filter(([, n]) => n !== 0),
  );
}
