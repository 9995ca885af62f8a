import { Client } from 'pg';
import { setTimeout as sleep } from 'node:timers/promises';
import { createPostgresDatabase, PaymentsProcess } from '../payments/payments-harness';
import { waitFor } from '../microservices/broker-test-support';
import { RedisServerProcess, startRedisServer } from '../support/redis-server';
import { describeWithServices, TEST_SERVICES } from '../support/services';
import { TcpProxy } from '../support/tcp-proxy';
import { appOutputs, closeApps, createCustomers, isAlive, spawnApp } from './fault-support';
import { balanceOf, consumerOutcomes, paymentRequest, PaymentRequestQueue, paymentRows } from './payment-requests';

const CONSUMERS = 3;
const LEASE_SECONDS = 3;

/**
 * The sample consumer itself (not a fixture) with IDEMPOTENCY_STORE=redis: three app processes consume one queue,
 * each reaching a Redis of the test's own through a proxy of its own. The one that runs a payment request is
 * frozen as it sends the completion of its record (its payment committed, its ack held until the record is
 * settled) and SIGKILLed there: the window that the Redis store cannot close (docs/protocol.md §10). RabbitMQ
 * redelivers the message to another process, which waits out the dead one's lease, runs the handler again and
 * meets the payment's UNIQUE reference: a refusal, acknowledged. The customer is charged once.
 */
describeWithServices(['postgres', 'rabbitmq'], 'fault: a payments consumer SIGKILLed mid-message (Redis store)', () => {
  let redis: RedisServerProcess | undefined;
  let database: { url: string; drop: () => Promise<void> } | undefined;
  let queue: PaymentRequestQueue | undefined;
  let direct: Client | undefined;
  const proxies: TcpProxy[] = [];
  const apps: PaymentsProcess[] = [];

  beforeAll(async () => {
    redis = await startRedisServer();
    database = await createPostgresDatabase();
    queue = await PaymentRequestQueue.open();
    for (let i = 0; i < CONSUMERS; i++) {
      const proxy = new TcpProxy({ host: redis.host, port: redis.port });
      await proxy.start();
      proxies.push(proxy);
      // One after another: the first migrates the schema; the others find it done.
      apps.push(
        await spawnApp({
          DATABASE_URL: database.url,
          IDEMPOTENCY_STORE: 'redis',
          REDIS_URL: `redis://127.0.0.1:${proxy.port}`,
          IDEMPOTENCY_LOCK_TIMEOUT_SECONDS: String(LEASE_SECONDS),
          AMQP_URL: TEST_SERVICES.rabbitmq,
          AMQP_QUEUE: queue.name,
        }),
      );
    }
    direct = new Client({ connectionString: database.url });
    await direct.connect();
  }, 180_000);

  afterAll(async () => {
    await closeApps(apps);
    await Promise.allSettled([queue?.dispose(), direct?.end(), ...proxies.map((proxy) => proxy.close())]);
    await Promise.allSettled([redis?.dispose(), database?.drop()]);
  }, 60_000);

  it('charges the redelivered message once', async () => {
    const [customerId] = (await createCustomers(apps[0].url, [100_000])).keys();
    const before = await balanceOf(direct!, customerId);
    const data = paymentRequest(customerId, 2_500);

    // Only a completion carries the stored reply; a paid one is this message's (the only one sent).
    const frozen = proxies.map((proxy, i) =>
      proxy.holdFrom((chunk) => chunk.includes('"outcome":"paid"')).then(() => i),
    );
    queue!.publish(data);
    const victimIndex = await Promise.race([frozen, sleep(20_000, -1, { ref: false })].flat());
    if (victimIndex < 0) console.log(appOutputs(apps, 40));
    expect(victimIndex).toBeGreaterThanOrEqual(0);
    const victim = apps[victimIndex];
    // Well inside the store's 1 s command timeout, after which the victim would settle the message itself.
    victim.child.kill('SIGKILL');
    await waitFor('the victim to die', () => !isAlive(victim), 5_000);
    // The others' completions must go through.
    for (const proxy of proxies) if (!proxy.isHolding) void proxy.holdFrom(() => false);
    // Committed before the kill: only the UNIQUE reference can refuse the second run's payment.
    expect(await paymentRows(direct!, [data.reference])).toEqual([1]);

    const survivors = apps.filter((app) => app !== victim);
    const settled = async () =>
      (await Promise.all(survivors.map((app) => consumerOutcomes(app.url)))).some((o) => (o.executed ?? 0) > 0);
    try {
      await waitFor('the redelivered message to be settled by a survivor', settled, 30_000);
      await waitFor('the queue drained', async () => (await queue!.ready()) === 0, 10_000);
    } catch (error) {
      console.log(appOutputs(apps, 60));
      throw error;
    }
    await sleep(2_000);
    const outcomes = await Promise.all(survivors.map((app) => consumerOutcomes(app.url)));
    console.log(
      `── consumer ${victimIndex} SIGKILLed before completing its record; survivors' outcomes: ${JSON.stringify(outcomes)}`,
    );

    expect(victim.child.signalCode).toBe('SIGKILL');
    expect(await paymentRows(direct!, [data.reference])).toEqual([1]);
    expect(await balanceOf(direct!, customerId)).toBe(before - data.amount);
    expect(survivors.every(isAlive)).toBe(true);
  });
});
