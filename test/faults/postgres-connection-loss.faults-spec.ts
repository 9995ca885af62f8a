import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client } from 'pg';
import { PaymentsProcess, createPostgresDatabase } from '../payments/payments-harness';
import { describeWithServices, TEST_SERVICES, TestService } from '../support/services';
import { TcpProxy } from '../support/tcp-proxy';
import { isAmbiguous, RetryingClient } from './fault-client';
import { checkLedger, readLedger } from './ledger';
import {
  API_KEY,
  appOutputs,
  closeApps,
  createCustomers,
  failureLogCounts,
  isAlive,
  outcomes,
  PaymentStream,
  resendSucceeded,
  spawnApps,
  summary,
  waitForHealthy,
} from './fault-support';

/**
 * PostgreSQL connection loss: two payments app processes in their own (throwaway) PostgreSQL database, reaching it
 * through a TCP proxy of the test's own, with the TypeORM store (records in that database) and with the Redis store
 * (only the handlers' queries see the loss). The shared server is never stopped: the app's established backends
 * are killed with pg_terminate_backend (eight rounds, 600 ms apart), then the proxy cuts the link — every
 * connection reset, new ones refused — for two seconds, twice. A lost connection is a retryable 503, never a 500.
 */
const STORES: Array<{ store: string; services: TestService[]; env: Record<string, string> }> = [
  { store: 'typeorm', services: ['postgres'], env: {} },
  { store: 'redis', services: ['postgres', 'redis'], env: { REDIS_URL: TEST_SERVICES.redis } },
];

for (const { store, services, env } of STORES)
  describeWithServices(services, `fault: PostgreSQL connection loss under the ${store} store (2 instances)`, () => {
    let proxy: TcpProxy | undefined;
    const apps: PaymentsProcess[] = [];
    let database: { url: string; drop: () => Promise<void> } | undefined;
    let admin: Client | undefined;

    beforeAll(async () => {
      database = await createPostgresDatabase();
      const direct = new URL(database.url);
      proxy = new TcpProxy({ host: direct.hostname, port: Number(direct.port || 5432) });
      await proxy.start();
      const viaProxy = new URL(database.url);
      viaProxy.port = String(proxy.port);
      await spawnApps(
        2,
        { DATABASE_URL: viaProxy.toString(), IDEMPOTENCY_STORE: store, IDEMPOTENCY_LOCK_TIMEOUT_SECONDS: '2', ...env },
        apps,
      );
      admin = new Client({ connectionString: TEST_SERVICES.postgres, connectionTimeoutMillis: 5_000 });
      await admin.connect();
    }, 90_000);

    afterAll(async () => {
      await closeApps(apps);
      await Promise.allSettled([admin?.end(), proxy?.close()]);
      await database?.drop();
    }, 60_000);

    it('never debits twice, answers 503 (never 500) while the connection is lost, and recovers by itself', async () => {
      const urls = apps.map((app) => app.url);
      const pids = apps.map((app) => app.child.pid);
      const dbName = new URL(database!.url).pathname.slice(1);
      const runId = `pg-${randomUUID().slice(0, 8)}`;
      const startBalances = await createCustomers(urls[0], [2_000_000, 2_000_000, 2_000_000, 4_000]);
      const client = new RetryingClient(API_KEY);
      const stream = new PaymentStream(client, urls, [...startBalances.keys()], {
        runId,
        workers: 6,
        refundShare: 0.3,
      });
      const cuts: Array<{ downFrom: number; downUntil: number; back: number; healthyAfterMs: number }> = [];
      const terminations: number[] = [];

      let phase = 'load';
      try {
        stream.start();
        await sleep(1_500);
        for (let i = 0; i < 8; i++) {
          phase = `pg_terminate_backend round ${i + 1}`;
          // Every backend of the app's database, fresh ones included (a fresh one used to crash the app: see
          // pg-fatal-on-new-connection.faults-spec.ts).
          const { rows } = await admin!.query(
            `SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity
           WHERE datname = $1 AND pid <> pg_backend_pid()`,
            [dbName],
          );
          terminations.push(rows[0].n);
          await sleep(600);
        }
        phase = 'recovery after the terminations';
        await waitForHealthy(urls, 20_000);
        await sleep(1_000);
        for (let i = 0; i < 2; i++) {
          phase = `cut ${i + 1}`;
          await proxy!.cut();
          const downFrom = Date.now();
          await sleep(2_000);
          const downUntil = Date.now();
          await proxy!.restore();
          const back = Date.now();
          phase = `recovery after cut ${i + 1}`;
          const healthyAfterMs = await waitForHealthy(urls, 20_000);
          cuts.push({ downFrom, downUntil, back, healthyAfterMs });
          await sleep(1_000);
        }
        await sleep(500);
      } catch (error) {
        const { rows } = await admin!.query(
          `SELECT pid, state, wait_event_type || ':' || wait_event AS waiting, round(extract(epoch FROM now() - xact_start)) AS xact_s,
                left(regexp_replace(query, '\\s+', ' ', 'g'), 70) AS query
         FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`,
          [dbName],
        );
        console.log(
          `FAILED during ${phase}: ${error}\npg_stat_activity:\n${rows.map((row) => JSON.stringify(row)).join('\n')}\n${appOutputs(apps, 80)}`,
        );
        throw error;
      } finally {
        // Should a step above fail mid-cut, give the stream its link back so that it ends quickly.
        if (!proxy!.listening) await proxy!.restore();
        await stream.stop();
      }

      expect(apps.map(isAlive)).toEqual([true, true]);
      expect(apps.map((app) => app.child.pid)).toEqual(pids);
      await waitForHealthy(urls, 20_000);
      const fresh = new RetryingClient(API_KEY, { maxAttempts: 1, deadlineMs: 10_000, requestTimeoutMs: 10_000 });
      const customerId = [...startBalances.keys()][0];
      const after = await Promise.all(
        Array.from({ length: 6 }, (_, i) =>
          fresh.send(
            urls,
            '/payments',
            { customerId, amount: 100, currency: 'EUR', reference: `${runId}-after-${i}` },
            { start: i },
          ),
        ),
      );
      for (const [i, op] of after.entries())
        stream.payments.push({ customerId, amount: 100, reference: `${runId}-after-${i}`, first: op, resends: [] });

      // The records live in PostgreSQL and survived: a re-send replays (a 409 "reference used" only where the
      // completion itself was lost with the connection).
      const resends = await resendSucceeded(client, urls, stream.payments);

      const ledger = await readLedger(database!.url);
      const report = checkLedger(ledger, startBalances, stream.payments, stream.refunds);
      // Requests that lived entirely inside a cut (sent after it, answered before the link was restored).
      const duringCut = client.log.filter((a) =>
        cuts.some((c) => a.sentAt >= c.downFrom && a.answeredAt <= c.downUntil),
      );
      const cutStatuses = new Set(duringCut.map((a) => a.status));
      const recovered = cuts.map((c) =>
        urls.map((_, i) => client.log.some((a) => a.instance === i && a.status === 201 && a.sentAt >= c.back)),
      );
      const firstOps = stream.payments.map((payment) => payment.first);
      const ambiguousPayments = firstOps.filter((op) => op.attempts.some(isAmbiguous)).length;

      console.log(
        summary(
          `PostgreSQL connection loss under the ${store} store`,
          [
            `payments ${stream.payments.length}: ${JSON.stringify(outcomes(firstOps))}; refunds ${stream.refunds.length}: ${JSON.stringify(outcomes(stream.refunds.map((r) => r.op)))}`,
            `stream + re-sends: ${client.tally}`,
            `pg_terminate_backend rounds: ${terminations.join(',')} backends terminated`,
            ...cuts.map(
              (c, i) =>
                `cut ${i + 1}: ${c.downUntil - c.downFrom} ms; ${client.log.filter((a) => a.sentAt >= c.downFrom && a.sentAt < c.back).length} requests sent meanwhile; healthy ${c.healthyAfterMs} ms after restore`,
            ),
            `requests that lived entirely inside a cut: ${duringCut.length}, statuses ${[...cutStatuses].join(',')}`,
            `payments with an ambiguous attempt (database-outage 503 / no answer): ${ambiguousPayments}`,
            `apps logged: ${failureLogCounts(apps)}`,
            `after recovery: ${after.map((op) => op.attempts[0]?.status).join(' ')}`,
            `re-sends of succeeded payments: ${JSON.stringify(outcomes(resends))} (replayed ${resends.filter((r) => r.replayed).length})`,
            `payment rows ${ledger.payments.length}, refund rows ${ledger.refunds.length}; proxy accepted ${proxy!.stats.accepted} connections`,
          ],
          report,
        ),
      );
      if (report.violations.length > 0 || client.tally.count(500) > 0) console.log(appOutputs(apps, 400));

      expect(report.violations).toEqual([]);
      expect(report.doubleDebits).toBe(0);
      expect(client.tally.unavailableWithoutRetryAfter).toBe(0);
      expect(terminations.reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
      // While the link is cut nothing reaches the database: 503 (the store's, or the handler's lost connection).
      expect(duringCut.length).toBeGreaterThan(0);
      expect([...cutStatuses]).toEqual([503]);
      // A lost connection is a 503 with Retry-After, the record released, retryable with the same key; never a 500
      // (nor another 5xx), and no key ever "used for another request".
      expect([...client.tally.byStatus.keys()].filter((status) => status >= 500 && status !== 503)).toEqual([]);
      expect(client.tally.count(422)).toBe(0);
      expect(client.tally.transportErrors).toBe(0);
      expect(firstOps.filter((op) => op.final === 'gave_up' || op.final === 'refused')).toEqual([]);
      expect(stream.refunds.filter((r) => r.op.final !== 'succeeded' && r.op.final !== 'reference_conflict')).toEqual(
        [],
      );
      expect(recovered).toEqual(cuts.map(() => [true, true]));
      expect(after.map((op) => `${op.final}:${op.attempts.length}`)).toEqual(Array(6).fill('succeeded:1'));
    });
  });
