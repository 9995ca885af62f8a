import { randomUUID } from 'node:crypto';
import { createConnection, createServer, Server, Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { PaymentsProcess, createPostgresDatabase } from '../payments/payments-harness';
import { describeWithServices } from '../support/services';
import { getStatus, Operation, RetryingClient } from './fault-client';
import { checkLedger, LogicalPayment, readLedger } from './ledger';
import { API_KEY, appOutputs, closeApps, createCustomers, isAlive, spawnApp } from './fault-support';

/**
 * Regression test for a crash the fault suite found: the payments app (TypeORM 1.1 over pg 8 / pg-pool 3) died
 * (exit 1, "terminating connection due to administrator command") when PostgreSQL ended a pooled connection
 * right after accepting it — what pg_terminate_backend, a server restart or a failover does to a fresh
 * connection. pg-pool hands a new client over and drops its own 'error' listener; TypeORM attaches its own in a
 * promise continuation; a FATAL arriving in the same TCP read as the startup's ReadyForQuery hit no listener.
 * PostgresConnectionLossListener now gives every pooled client a permanent listener.
 *
 * Here a proxy delivers a FATAL 57P01 in the same chunk as the startup's ReadyForQuery for the next three new
 * connections, then passes traffic through again, while payments arrive: the app must survive and become healthy,
 * answer the payments caught by the FATAL with a retryable 503 (never a 500), and debit each payment once.
 */
describeWithServices(['postgres'], 'REPRO: a FATAL on a new pooled connection', () => {
  let server: Server | undefined;
  let database: { url: string; drop: () => Promise<void> } | undefined;
  const apps: PaymentsProcess[] = [];

  afterAll(async () => {
    await closeApps(apps);
    await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
    await database?.drop();
  }, 60_000);

  it('does not crash the app; it answers 503 (never 500) meanwhile, recovers, and debits each payment once', async () => {
    database = await createPostgresDatabase();
    const direct = new URL(database.url);
    let toInject = 0;
    let injected = 0;
    server = createServer((client: Socket) => {
      const upstream = createConnection({ host: direct.hostname, port: Number(direct.port || 5432) });
      let startup = true;
      const end = () => {
        client.destroy();
        upstream.destroy();
      };
      client
        .on('data', (chunk) => upstream.write(chunk))
        .on('error', end)
        .on('close', end);
      upstream.on('error', end).on('close', end);
      upstream.on('data', (chunk: Buffer) => {
        const readyForQuery = startup ? chunk.indexOf(Buffer.from([0x5a, 0, 0, 0, 5])) : -1;
        if (readyForQuery >= 0) startup = false;
        if (readyForQuery >= 0 && toInject > 0) {
          toInject--;
          injected++;
          client.end(Buffer.concat([chunk.subarray(0, readyForQuery + 6), fatalAdminShutdown()]));
          upstream.destroy();
          return;
        }
        client.write(chunk);
      });
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    const viaProxy = new URL(database.url);
    viaProxy.port = String((server.address() as { port: number }).port);
    const app = await spawnApp({ DATABASE_URL: viaProxy.toString(), IDEMPOTENCY_STORE: 'typeorm' });
    apps.push(app);
    const startBalances = await createCustomers(app.url, [1_000_000]);
    const [customerId] = startBalances.keys();
    const client = new RetryingClient(API_KEY, { maxAttempts: 60, deadlineMs: 20_000, requestTimeoutMs: 10_000 });
    const payments: LogicalPayment[] = [];

    toInject = 3;
    // Health checks and payments open new pooled connections once the idle ones are used up or dropped.
    const statuses: number[] = [];
    const paying: Array<Promise<void>> = [];
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline) {
      // Several at once, so that they need more connections than the pool holds idle: new ones, which get the FATAL.
      for (let i = 0; i < 4; i++) {
        const reference = `fatal-${randomUUID().slice(0, 8)}`;
        const body = { customerId, amount: 100, currency: 'EUR', reference };
        paying.push(
          client
            .send([app.url], '/payments', body)
            .then((first: Operation) => void payments.push({ customerId, amount: 100, reference, first, resends: [] })),
        );
      }
      statuses.push(await getStatus(app.url, '/health'));
      if (!isAlive(app)) break;
      if (toInject === 0 && statuses.at(-1) === 200) break;
      await sleep(200);
    }
    await Promise.all(paying);
    const report = checkLedger(await readLedger(database.url), startBalances, payments, []);
    console.log(
      `REPRO: FATAL injected on ${injected} new connection(s); /health answered ${statuses.join(',')}; payments: ${client.tally}; ` +
        `double debits ${report.doubleDebits}; violations ${report.violations.join('; ') || 'none'}\n${isAlive(app) ? '' : appOutputs(apps, 30)}`,
    );
    expect(isAlive(app)).toBe(true);
    expect(statuses.at(-1)).toBe(200);
    expect(injected).toBeGreaterThan(0);
    expect([...client.tally.byStatus.keys()].filter((status) => status >= 500 && status !== 503)).toEqual([]);
    expect(client.tally.unavailableWithoutRetryAfter).toBe(0);
    expect(payments.map((payment) => payment.first.final)).toEqual(payments.map(() => 'succeeded'));
    expect(report.violations).toEqual([]);
    expect(report.doubleDebits).toBe(0);
  });
});

/** An ErrorResponse as PostgreSQL sends it to a backend ended by pg_terminate_backend. */
function fatalAdminShutdown(): Buffer {
  const fields = Buffer.from(
    'SFATAL\0VFATAL\0C57P01\0Mterminating connection due to administrator command\0\0',
    'latin1',
  );
  const length = Buffer.alloc(4);
  length.writeInt32BE(fields.length + 4);
  return Buffer.concat([Buffer.from('E'), length, fields]);
}
