import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { PaymentsProcess, createPostgresDatabase } from '../payments/payments-harness';
import { RedisServerProcess, startRedisServer } from '../support/redis-server';
import { describeWithServices } from '../support/services';
import { TcpProxy } from '../support/tcp-proxy';
import { postJson, RetryingClient } from './fault-client';
import { readLedger } from './ledger';
import { API_KEY, closeApps, createCustomers, spawnApp, summary } from './fault-support';

/**
 * The killed-instance window for refunds (it found the bug fixed by "Refunds keep their idempotency key under a
 * UNIQUE index"): a refund whose instance dies after the refund's transaction commits but before its idempotency
 * record is completed (docs/protocol.md §10). The client retries with the same key on the other instance after the
 * lease; the survivor takes the lease over and runs the handler again. Payments are saved by their UNIQUE
 * reference; refunds by the UNIQUE (merchant, request key) of their row.
 *
 * The victim reaches its store (Redis, or PostgreSQL for the TypeORM store) through a proxy that holds
 * everything from the refund's completion on — the completion is the only command carrying the stored
 * response, hence `"paymentId":"<id>"` — and the victim is SIGKILLed right then.
 *
 * - Redis store: the completion is sent after the refund committed; the retry's second run finds the refund by
 *   its unique key, made for the same payment and amount, and answers with it → 201: credited once, and the
 *   client gets its refund back.
 * - TypeORM store, transactional: the completion is an UPDATE inside the business transaction, before
 *   COMMIT; holding it freezes the transaction uncommitted, the kill rolls it back, and the retry runs once → 201.
 */
describe.each(['redis', 'typeorm'] as const)(
  'fault: a refund retried after its instance died between commit and completion (%s store)',
  (store) => {
    describeWithServices(['postgres'], 'refund window', () => {
      let redis: RedisServerProcess | undefined;
      let proxy: TcpProxy | undefined;
      let database: { url: string; drop: () => Promise<void> } | undefined;
      const apps: PaymentsProcess[] = [];

      afterAll(async () => {
        await closeApps(apps);
        await Promise.allSettled([proxy?.close(), redis?.dispose(), database?.drop()]);
      }, 60_000);

      it('credits the refund once and gives the client a definite answer', async () => {
        database = await createPostgresDatabase();
        const direct = new URL(database.url);
        let survivorEnv: Record<string, string>;
        let victimEnv: Record<string, string>;
        if (store === 'redis') {
          redis = await startRedisServer();
          proxy = new TcpProxy({ host: redis.host, port: redis.port });
          await proxy.start();
          survivorEnv = { DATABASE_URL: database.url, IDEMPOTENCY_STORE: 'redis', REDIS_URL: redis.url };
          victimEnv = { ...survivorEnv, REDIS_URL: `redis://127.0.0.1:${proxy.port}` };
        } else {
          proxy = new TcpProxy({ host: direct.hostname, port: Number(direct.port || 5432) });
          await proxy.start();
          const viaProxy = new URL(database.url);
          viaProxy.port = String(proxy.port);
          survivorEnv = { DATABASE_URL: database.url, IDEMPOTENCY_STORE: 'typeorm' };
          victimEnv = { DATABASE_URL: viaProxy.toString(), IDEMPOTENCY_STORE: 'typeorm' };
        }
        const lease = { IDEMPOTENCY_LOCK_TIMEOUT_SECONDS: '2' };
        const survivor = await spawnApp({ ...survivorEnv, ...lease });
        apps.push(survivor);
        const victim = await spawnApp({ ...victimEnv, ...lease });
        apps.push(victim);

        const [customerId] = [...(await createCustomers(survivor.url, [10_000])).keys()];
        const client = new RetryingClient(API_KEY, { maxAttempts: 30, deadlineMs: 20_000, requestTimeoutMs: 10_000 });
        const payment = await client.send([survivor.url], '/payments', {
          customerId,
          amount: 1_000,
          currency: 'EUR',
          reference: `refund-repro-${randomUUID()}`,
        });
        expect(payment.final).toBe('succeeded');
        const paymentId = payment.answer.id as string;

        // The refund on the victim; frozen between its commit and its completion, then killed.
        const key = randomUUID();
        const held = proxy!.holdFrom((chunk) => chunk.includes(`"paymentId":"${paymentId}"`));
        const exited = new Promise((resolve) => victim.child.once('exit', resolve));
        const first = postJson(
          victim.url,
          `/payments/${paymentId}/refunds`,
          { amount: 300 },
          { authorization: `Bearer ${API_KEY}`, 'idempotency-key': key },
          10_000,
        ).then(
          (answer) => answer.status,
          () => 0,
        );
        await Promise.race([held, sleep(10_000, undefined, { ref: false })]);
        expect(proxy!.isHolding).toBe(true);
        victim.child.kill('SIGKILL');
        await exited;
        expect(await first).toBe(0); // the client never got an answer

        // The client retries with the same key on the other instance once the lease has run out.
        await sleep(2_500);
        const retry = await client.send([survivor.url], `/payments/${paymentId}/refunds`, { amount: 300 }, { key });
        const ledger = await readLedger(database.url);
        const refundRows = ledger.refunds.filter((row) => row.paymentId === paymentId);
        console.log(
          summary(`Refund killed between commit and completion (${store} store)`, [
            `retry answered ${retry.attempts.map((a) => (a.inFlight ? '409i' : a.status)).join(' ')} ${JSON.stringify(retry.answer)}`,
            `refund rows for the payment: ${refundRows.length}; balance ${ledger.balances.get(customerId)} (10000 − 1000 + 300 = 9300)`,
          ]),
        );
        expect(refundRows).toHaveLength(1);
        expect(refundRows[0].requestKey).toBe(key);
        expect(ledger.balances.get(customerId)).toBe(9_300);
        expect(retry.attempts.filter((attempt) => attempt.status >= 500)).toEqual([]);
        if (store === 'redis') {
          // The refund committed on the victim; the second run finds it by the unique key and answers with it.
          expect(retry.final).toBe('succeeded');
          expect(retry.replayed).toBe(false);
          expect(retry.answer).toMatchObject({ id: refundRows[0].id, paymentId, amount: 300 });
        } else {
          // Nothing committed on the victim; the retry ran it, once.
          expect(retry.final).toBe('succeeded');
          expect(retry.replayed).toBe(false);
          expect(refundRows[0].id).toBe(retry.answer.id);
        }
      });
    });
  },
);
