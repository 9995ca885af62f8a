import { Channel, ChannelModel, connect } from 'amqplib';
import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { createPostgresDatabase, PaymentsProcess, spawnTypeScriptApp } from '../payments/payments-harness';
import { describeWithServices, TEST_SERVICES } from '../support/services';
import { waitFor } from './broker-test-support';
import { PaymentMessage, REDIS_PAYMENTS, TRANSACTIONAL_PAYMENTS } from './kill-redeliver-app/payment-message';

const FIXTURE = 'test/microservices/kill-redeliver-app/main.ts';

/**
 * At-least-once delivery meets a consumer that dies: three consumer processes share the queues, the one a
 * message reaches first is SIGKILLed in the middle of its handler (after its writes and its ack call), and
 * RabbitMQ redelivers the message to another. The account must be debited once.
 */
describeWithServices(
  ['rabbitmq', 'postgres', 'redis'],
  'RabbitMQ: a consumer killed mid-handler, the message redelivered',
  () => {
    const queue = `idempotency-kill-${randomUUID()}`;
    const consumers: PaymentsProcess[] = [];
    let database: { url: string; drop: () => Promise<void> };
    let ledger: Client;
    let broker: ChannelModel;
    let channel: Channel;

    beforeAll(async () => {
      database = await createPostgresDatabase();
      const env = {
        KR_DATABASE_URL: database.url,
        KR_REDIS_URL: TEST_SERVICES.redis,
        KR_RABBITMQ_URL: TEST_SERVICES.rabbitmq,
        KR_QUEUE: queue,
      };
      // The first one creates the schema; the others start together once it is there.
      consumers.push(await spawnTypeScriptApp(FIXTURE, env));
      consumers.push(...(await Promise.all([spawnTypeScriptApp(FIXTURE, env), spawnTypeScriptApp(FIXTURE, env)])));
      ledger = new Client({ connectionString: database.url });
      await ledger.connect();
      broker = await connect(TEST_SERVICES.rabbitmq);
      channel = await broker.createChannel();
    }, 120_000);

    afterAll(async () => {
      await Promise.all(consumers.map((consumer) => consumer.close()));
      for (const mode of ['transactional', 'redis'])
        await channel?.deleteQueue(`${queue}.${mode}`).catch(() => undefined);
      await broker?.close();
      await ledger?.end();
      await database?.drop();
    });

    const alive = () =>
      consumers.filter((consumer) => consumer.child.exitCode === null && consumer.child.signalCode === null);
    const output = () => consumers.map((consumer) => consumer.output()).join('\n');
    const lines = (prefix: string, reference: string) =>
      output()
        .split('\n')
        .filter((line) => line.startsWith(`${prefix} ${reference}`)).length;

    /** Publishes one message as Nest's client would, keyed by its AMQP messageId; returns once one consumer died. */
    async function publishToDie(mode: string, pattern: string, payment: PaymentMessage): Promise<PaymentsProcess> {
      const before = alive();
      channel.sendToQueue(`${queue}.${mode}`, Buffer.from(JSON.stringify({ pattern, data: payment })), {
        messageId: payment.reference,
        persistent: true,
      });
      await waitFor('a consumer to die mid-handler', () => alive().length === before.length - 1, 20_000);
      const dead = before.find((consumer) => !alive().includes(consumer))!;
      expect(dead.child.signalCode).toBe('SIGKILL');
      return dead;
    }

    async function ledgerState(reference: string) {
      const payments = await ledger.query('SELECT id FROM kp_payments WHERE reference = $1', [reference]);
      const [{ balance }] = (await ledger.query('SELECT balance FROM kp_accounts WHERE id = 1')).rows;
      return { payments: payments.rowCount, balance: Number(balance) };
    }

    it('in the transactional mode (TypeORM store on PostgreSQL): the state changes exactly once', async () => {
      const payment = { reference: `tx-${randomUUID()}`, amount: 100 };
      const { balance: before } = await ledgerState('none');
      await publishToDie('transactional', TRANSACTIONAL_PAYMENTS, payment);
      // The dead run's writes and record rolled back with its connection; its ack was held, so never sent.
      await waitFor(
        'the redelivered payment',
        async () => (await ledgerState(payment.reference)).payments === 1,
        20_000,
      );
      expect(lines('run', payment.reference)).toBe(2);
      expect(await ledgerState(payment.reference)).toEqual({ payments: 1, balance: before - 100 });
      expect(lines('constraint', payment.reference)).toBe(0);
    }, 60_000);

    it('with the Redis store beside the ledger: once, the second write refused by the UNIQUE reference', async () => {
      const payment = { reference: `redis-${randomUUID()}`, amount: 100 };
      const { balance: before } = await ledgerState('none');
      await publishToDie('redis', REDIS_PAYMENTS, payment);
      // The dead run committed its payment before dying, so only the constraint can refuse the second run's.
      expect(await ledgerState(payment.reference)).toEqual({ payments: 1, balance: before - 100 });
      await waitFor(
        'the redelivered run to meet the constraint',
        () => lines('constraint', payment.reference) === 1,
        20_000,
      );
      expect(await ledgerState(payment.reference)).toEqual({ payments: 1, balance: before - 100 });
      expect(lines('run', payment.reference)).toBe(2);
    }, 60_000);

    it('leaves no message behind: every one was acknowledged once the work had committed', async () => {
      await Promise.all(alive().map((consumer) => consumer.close()));
      for (const mode of ['transactional', 'redis']) {
        expect((await channel.checkQueue(`${queue}.${mode}`)).messageCount).toBe(0);
      }
    }, 30_000);
  },
);
