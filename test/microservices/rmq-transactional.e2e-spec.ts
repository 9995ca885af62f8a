import { Controller, INestMicroservice } from '@nestjs/common';
import { Ctx, EventPattern, Payload, RmqContext, Transport } from '@nestjs/microservices';
import { Test } from '@nestjs/testing';
import { getDataSourceToken, InjectDataSource, TypeOrmModule } from '@nestjs/typeorm';
import { Channel, ChannelModel, connect } from 'amqplib';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { DataSource } from 'typeorm';
import { Idempotent, IdempotencyModule } from '@nest-idempotency/core';
import {
  CreateIdempotencyRecords1764259200000,
  IdempotencyTransaction,
  TypeOrmIdempotencyStore,
} from '@nest-idempotency/core/typeorm';
import { createPostgresDatabase } from '../payments/payments-harness';
import { describeWithServices, TEST_SERVICES } from '../support/services';
import { Account, Payment } from '../transactional/kill-point-app/entities';
import { Recorder, waitFor } from './broker-test-support';

const PAY = 'event tx.pay';

interface PaymentMessage {
  reference: string;
  amount: number;
  /** The first run takes this long: past its lease, so a copy published meanwhile takes the key over. */
  firstRunMs?: number;
  /** The first run writes, then sends its message back to the queue (nack, requeue) and returns normally. */
  requeueFirstRun?: boolean;
}

/** Writes through the idempotency transaction, and acks its message by hand. */
@Controller()
class TransactionalPaymentsConsumer {
  readonly runs = new Map<string, number>();

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly transaction: IdempotencyTransaction,
  ) {}

  @EventPattern('tx.pay')
  @Idempotent()
  async pay(@Payload() payment: PaymentMessage, @Ctx() context: RmqContext): Promise<void> {
    const run = (this.runs.get(payment.reference) ?? 0) + 1;
    this.runs.set(payment.reference, run);
    const manager = this.transaction.managerFor(this.dataSource);
    if (!manager) throw new Error('not in the idempotency transaction');
    await manager.update(Account, { id: 1 }, { balance: () => `balance - ${Number(payment.amount)}` });
    await manager.insert(Payment, { reference: payment.reference, amount: payment.amount });
    if (run === 1 && payment.requeueFirstRun) {
      context.getChannelRef().nack(context.getMessage(), false, true);
      return;
    }
    context.getChannelRef().ack(context.getMessage());
    if (run === 1 && payment.firstRunMs) await sleep(payment.firstRunMs);
  }
}

describeWithServices(
  ['rabbitmq', 'postgres'],
  'the transactional mode for message handlers (RabbitMQ, PostgreSQL)',
  () => {
    const queue = `idempotency-tx-${randomUUID()}`;
    const recorder = new Recorder();
    let database: { url: string; drop: () => Promise<void> };
    let app: INestMicroservice;
    let consumer: TransactionalPaymentsConsumer;
    let dataSource: DataSource;
    let broker: ChannelModel;
    let channel: Channel;

    beforeAll(async () => {
      database = await createPostgresDatabase();
      const moduleRef = await Test.createTestingModule({
        imports: [
          TypeOrmModule.forRoot({
            type: 'postgres',
            url: database.url,
            entities: [Account, Payment],
            migrations: [CreateIdempotencyRecords1764259200000],
            migrationsRun: true,
            synchronize: true,
          }),
          IdempotencyModule.forRootAsync({
            inject: [getDataSourceToken()],
            useFactory: (source: DataSource) => ({
              store: new TypeOrmIdempotencyStore(source, { sweepIntervalMs: 0 }),
              transactional: true,
              lockTimeout: 500,
              retryAfter: 100,
              rmq: { noAck: false },
              events: recorder.listener,
            }),
          }),
        ],
        controllers: [TransactionalPaymentsConsumer],
        providers: [IdempotencyTransaction],
      }).compile();
      app = moduleRef.createNestMicroservice({
        transport: Transport.RMQ,
        options: { urls: [TEST_SERVICES.rabbitmq], queue, queueOptions: { durable: false }, noAck: false },
        logger: false,
      });
      app.useLogger(recorder.logger);
      await app.listen();
      consumer = app.get(TransactionalPaymentsConsumer);
      dataSource = app.get(DataSource);
      await dataSource.query('INSERT INTO kp_accounts (id, balance) VALUES (1, 10000)');
      broker = await connect(TEST_SERVICES.rabbitmq);
      channel = await broker.createChannel();
    }, 30_000);

    afterAll(async () => {
      await app?.close();
      await channel?.deleteQueue(queue).catch(() => undefined);
      await broker?.close();
      await database?.drop();
    });
    beforeEach(() => recorder.clear());

    const publish = (payment: PaymentMessage) =>
      channel.sendToQueue(queue, Buffer.from(JSON.stringify({ pattern: 'tx.pay', data: payment })), {
        messageId: payment.reference,
      });
    const state = async (reference: string) => ({
      payments: (await dataSource.query('SELECT id FROM kp_payments WHERE reference = $1', [reference])).length,
      balance: Number((await dataSource.query('SELECT balance FROM kp_accounts WHERE id = 1'))[0].balance),
    });

    it('commits the writes with the record: five copies, one payment and one debit', async () => {
      const payment = { reference: randomUUID(), amount: 100 };
      const { balance } = await state('none');
      for (let i = 0; i < 5; i++) publish(payment);
      await recorder.settled(PAY, 5);
      expect(consumer.runs.get(payment.reference)).toBe(1);
      expect(await state(payment.reference)).toEqual({ payments: 1, balance: balance - 100 });
    });

    it('a run that outlives its lease is rolled back and its message requeued, not acked: one payment', async () => {
      const payment = { reference: randomUUID(), amount: 100, firstRunMs: 1_000 };
      const { balance } = await state('none');
      publish(payment);
      await waitFor('the first run', () => consumer.runs.get(payment.reference) === 1);
      await sleep(600);
      // The first run's lease has ended: this copy takes the key over, and waits on the first one's row locks.
      publish(payment);
      await waitFor('the lost lease', () => recorder.events.some((event) => event.leaseLost), 5_000);
      // Requeued rather than acked, the first copy comes back and is replayed from the second's record.
      await recorder.settled(PAY, 2);
      expect(consumer.runs.get(payment.reference)).toBe(2);
      expect(await state(payment.reference)).toEqual({ payments: 1, balance: balance - 100 });
      expect(recorder.count(PAY, 'executed')).toBe(1);
      expect(recorder.count(PAY, 'replayed')).toBe(1);
    });

    it('a message its handler requeues is not done: its writes are rolled back and the redelivery runs', async () => {
      const payment = { reference: randomUUID(), amount: 100, requeueFirstRun: true };
      const { balance } = await state('none');
      publish(payment);
      await recorder.settled(PAY, 1);
      expect(consumer.runs.get(payment.reference)).toBe(2);
      expect(await state(payment.reference)).toEqual({ payments: 1, balance: balance - 100 });
      expect(recorder.count(PAY, 'released')).toBe(1);
    });

    it('leaves no message in the queue once the consumer stops', async () => {
      await app.close();
      expect((await channel.checkQueue(queue)).messageCount).toBe(0);
    });
  },
);
