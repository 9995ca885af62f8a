import { INestMicroservice } from '@nestjs/common';
import { ClientProxy, ClientProxyFactory, RmqRecordBuilder, RmqRecordOptions, Transport } from '@nestjs/microservices';
import { Channel, ChannelModel, connect } from 'amqplib';
import { randomUUID } from 'node:crypto';
import { lastValueFrom } from 'rxjs';
import { IdempotencyModuleOptions } from '@nest-idempotency/core';
import { describeWithServices, TEST_SERVICES } from '../support/services';
import { compileLedger, Recorder, waitFor } from './broker-test-support';
import { Credit, LEDGER_MANUAL_ACK, LedgerController } from './ledger.controller';

const CREDIT = 'event ledger.credit';
const CREDIT_WAITING = 'event ledger.credit-waiting';
const TRANSFER = 'message ledger.transfer';

/** A consumer app on its own queue (dead-lettering to `<queue>.dead`), a client for it, and the broker. */
class RmqLedger {
  readonly queue = `idempotency-rmq-${randomUUID()}`;
  readonly deadLetters = `${this.queue}.dead`;
  readonly recorder = new Recorder();
  app: INestMicroservice;
  client: ClientProxy;
  ledger: LedgerController;
  admin: ChannelModel;
  channel: Channel;
  private readonly queueOptions = {
    durable: false,
    arguments: { 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': this.deadLetters },
  };

  constructor(
    private readonly consumerNoAck: boolean,
    private readonly options: Partial<IdempotencyModuleOptions>,
  ) {}

  async start(): Promise<void> {
    this.admin = await connect(TEST_SERVICES.rabbitmq);
    this.channel = await this.admin.createChannel();
    await this.channel.assertQueue(this.deadLetters, { durable: false });
    const moduleRef = await compileLedger(this.recorder, this.options, [
      { provide: LEDGER_MANUAL_ACK, useValue: !this.consumerNoAck },
    ]);
    this.app = moduleRef.createNestMicroservice({
      transport: Transport.RMQ,
      options: {
        urls: [TEST_SERVICES.rabbitmq],
        queue: this.queue,
        queueOptions: this.queueOptions,
        noAck: this.consumerNoAck,
        prefetchCount: 50,
      },
      logger: false,
    });
    this.app.useLogger(this.recorder.logger);
    await this.app.listen();
    this.ledger = this.app.get(LedgerController);
    this.client = ClientProxyFactory.create({
      transport: Transport.RMQ,
      options: { urls: [TEST_SERVICES.rabbitmq], queue: this.queue, queueOptions: this.queueOptions },
    });
    await this.client.connect();
  }

  async stop(): Promise<void> {
    await this.client?.close();
    await this.app?.close();
    await this.channel?.deleteQueue(this.queue).catch(() => undefined);
    await this.channel?.deleteQueue(this.deadLetters).catch(() => undefined);
    await this.admin?.close();
  }

  emit(pattern: string, credit: Credit, options: RmqRecordOptions): Promise<unknown> {
    return lastValueFrom(this.client.emit(pattern, new RmqRecordBuilder(credit).setOptions(options).build()), {
      defaultValue: undefined,
    });
  }

  send(pattern: string, credit: Credit, options: RmqRecordOptions): Promise<any> {
    return lastValueFrom(this.client.send(pattern, new RmqRecordBuilder(credit).setOptions(options).build()));
  }

  /** The next dead-lettered message's payload, waiting for it. */
  async deadLettered(): Promise<{ pattern: string; data: Credit }> {
    let message: Awaited<ReturnType<Channel['get']>> = false;
    await waitFor(
      'a dead-lettered message',
      async () => (message = await this.channel.get(this.deadLetters, { noAck: true })) !== false,
    );
    return JSON.parse((message as unknown as { content: Buffer }).content.toString());
  }

  /** Ready messages left in the queue (unacknowledged ones come back to it when their consumer closes). */
  async messagesLeft(): Promise<number> {
    return (await this.channel.checkQueue(this.queue)).messageCount;
  }
}

const credit = (overrides: Partial<Credit> = {}): Credit => ({
  ref: randomUUID(),
  account: `acct-${randomUUID()}`,
  amount: 10,
  ...overrides,
});

describeWithServices(['rabbitmq'], '@Idempotent() message handlers on RabbitMQ, manual acknowledgement', () => {
  const rmq = new RmqLedger(false, { rmq: { noAck: false } });
  const { recorder } = rmq;

  beforeAll(() => rmq.start(), 20_000);
  afterAll(() => rmq.stop());
  beforeEach(() => recorder.clear());

  it('the same event published five times changes state once, and every copy is acknowledged', async () => {
    const message = credit();
    for (let i = 0; i < 5; i++) await rmq.emit('ledger.credit', message, { messageId: message.ref });
    await recorder.settled(CREDIT, 5);
    expect(rmq.ledger.runsOf(message.ref)).toBe(1);
    expect(rmq.ledger.balances.get(message.account)).toBe(10);
    expect(recorder.count(CREDIT, 'replayed')).toBe(4);
    // A message has no principal, and its default scope (none) says nothing about it.
    expect(recorder.warnings).toEqual([]);
  });

  it('takes the key from the Idempotency-Key header when the message has no messageId', async () => {
    const message = credit();
    const headers = { 'Idempotency-Key': message.ref };
    for (let i = 0; i < 5; i++) await rmq.emit('ledger.credit', message, { headers });
    await recorder.settled(CREDIT, 5);
    expect(rmq.ledger.runsOf(message.ref)).toBe(1);
  });

  it('takes the key from the "key" option when set', async () => {
    const message = credit();
    for (let i = 0; i < 3; i++) await rmq.emit('ledger.credit-by-ref', message, {});
    await recorder.settled('event ledger.credit-by-ref', 3);
    expect(rmq.ledger.runsOf(message.ref)).toBe(1);
  });

  it('request-reply sent five times runs once, and every duplicate gets the stored reply', async () => {
    const message = credit();
    const replies = [];
    for (let i = 0; i < 5; i++) replies.push(await rmq.send('ledger.transfer', message, { messageId: message.ref }));
    expect(rmq.ledger.runsOf(message.ref)).toBe(1);
    expect(replies[0]).toEqual({ transferId: expect.any(String), account: message.account, balance: 10 });
    for (const reply of replies) expect(reply).toEqual(replies[0]);
  });

  it('refuses another payload under a used key: never run, dead-lettered, reported', async () => {
    const first = credit();
    await rmq.emit('ledger.credit', first, { messageId: first.ref });
    await recorder.settled(CREDIT, 1);
    const other = { ...first, amount: 99 };
    await rmq.emit('ledger.credit', other, { messageId: first.ref });
    expect(await rmq.deadLettered()).toEqual({ pattern: 'ledger.credit', data: other });
    expect(recorder.count(CREDIT, 'mismatch')).toBe(1);
    expect(recorder.warnings.join('\n')).toContain(
      `${CREDIT}: message refused, the handler did not run (IDEMPOTENCY_KEY_MISMATCH)`,
    );
    expect(rmq.ledger.runsOf(first.ref)).toBe(1);
    expect(rmq.ledger.balances.get(first.account)).toBe(10);

    const request = credit();
    await rmq.send('ledger.transfer', request, { messageId: request.ref });
    await expect(rmq.send('ledger.transfer', { ...request, amount: 99 }, { messageId: request.ref })).rejects.toEqual({
      code: 'IDEMPOTENCY_KEY_MISMATCH',
      message: expect.stringContaining('already used for a different request'),
      retryable: false,
    });
    expect(rmq.ledger.runsOf(request.ref)).toBe(1);
    await rmq.deadLettered();
  });

  it('refuses a message without a key: never run, dead-lettered, the sender told why', async () => {
    const event = credit();
    await rmq.emit('ledger.credit', event, {});
    expect((await rmq.deadLettered()).data).toEqual(event);
    expect(recorder.count(CREDIT, 'missing_key')).toBe(1);
    const request = credit();
    await expect(rmq.send('ledger.transfer', request, {})).rejects.toMatchObject({
      code: 'IDEMPOTENCY_KEY_MISSING',
      retryable: false,
    });
    await rmq.deadLettered();
    expect(rmq.ledger.runsOf(event.ref) + rmq.ledger.runsOf(request.ref)).toBe(0);
  });

  it('duplicates published at once run once: the others go back to the queue and come back as replays', async () => {
    const message = credit({ delayMs: 300 });
    await Promise.all(Array.from({ length: 5 }, () => rmq.emit('ledger.credit', message, { messageId: message.ref })));
    await recorder.settled(CREDIT, 5);
    expect(rmq.ledger.runsOf(message.ref)).toBe(1);
    expect(rmq.ledger.balances.get(message.account)).toBe(10);
    expect(recorder.count(CREDIT, 'conflict')).toBeGreaterThan(0);
  });

  it('duplicates published at once with onConflict wait run once and are each replayed in place', async () => {
    const message = credit({ delayMs: 300 });
    await Promise.all(
      Array.from({ length: 5 }, () => rmq.emit('ledger.credit-waiting', message, { messageId: message.ref })),
    );
    await recorder.settled(CREDIT_WAITING, 5);
    expect(rmq.ledger.runsOf(message.ref)).toBe(1);
    expect(recorder.count(CREDIT_WAITING, 'conflict')).toBe(0);
  });

  it('concurrent request-reply: one run; the waiting route replies to all, the rejecting one says retry', async () => {
    const waiting = credit({ delayMs: 300 });
    const replies = await Promise.all(
      Array.from({ length: 5 }, () => rmq.send('ledger.transfer-waiting', waiting, { messageId: waiting.ref })),
    );
    expect(rmq.ledger.runsOf(waiting.ref)).toBe(1);
    for (const reply of replies) expect(reply).toEqual(replies[0]);

    const rejecting = credit({ delayMs: 300 });
    const answers = await Promise.allSettled(
      Array.from({ length: 5 }, () => rmq.send('ledger.transfer', rejecting, { messageId: rejecting.ref })),
    );
    const refused = answers.filter((answer) => answer.status === 'rejected');
    expect(answers.filter((answer) => answer.status === 'fulfilled').length).toBeGreaterThanOrEqual(1);
    expect(refused.length).toBeGreaterThanOrEqual(1);
    for (const answer of refused) {
      expect((answer as PromiseRejectedResult).reason).toMatchObject({
        code: 'IDEMPOTENCY_IN_PROGRESS',
        retryable: true,
      });
    }
    // The refused copies went back to the queue too; they come back as replays, and the handler ran once.
    await recorder.settled(TRANSFER, 5);
    expect(rmq.ledger.runsOf(rejecting.ref)).toBe(1);
  });

  it('a failed run releases the key: the broker redelivers the message and it runs again, once', async () => {
    const message = credit({ failTimes: 1 });
    await rmq.emit('ledger.credit', message, { messageId: message.ref });
    await recorder.settled(CREDIT, 1);
    expect(rmq.ledger.runsOf(message.ref)).toBe(2);
    expect(rmq.ledger.balances.get(message.account)).toBe(10);
    expect(recorder.count(CREDIT, 'released')).toBe(1);
    await rmq.emit('ledger.credit', message, { messageId: message.ref });
    await recorder.settled(CREDIT, 2);
    expect(rmq.ledger.runsOf(message.ref)).toBe(2);
  });

  it('leaves no message unacknowledged or acknowledged twice (the queue is empty once the consumer stops)', async () => {
    const message = credit();
    await Promise.all(Array.from({ length: 5 }, () => rmq.emit('ledger.credit', message, { messageId: message.ref })));
    await recorder.settled(CREDIT, 5);
    // A second ack of one message would have closed the channel, and a nack of an acked one too.
    expect(recorder.warnings.filter((warning) => /could not|twice/.test(warning))).toEqual([]);
    await rmq.client.close();
    await rmq.app.close();
    expect(await rmq.messagesLeft()).toBe(0);
  });
});

describeWithServices(['rabbitmq'], '@Idempotent() message handlers on RabbitMQ, automatic acknowledgement', () => {
  const rmq = new RmqLedger(true, {});
  const { recorder } = rmq;

  beforeAll(() => rmq.start(), 20_000);
  afterAll(() => rmq.stop());
  beforeEach(() => recorder.clear());

  it('the same event five times changes state once; request-reply duplicates get the stored reply', async () => {
    const event = credit();
    for (let i = 0; i < 5; i++) await rmq.emit('ledger.credit', event, { messageId: event.ref });
    // Publishing returns before the consumer is done: a copy that lands while the first still runs is a conflict.
    await waitFor('five answered copies', () => recorder.count(CREDIT, 'executed', 'replayed', 'conflict') === 5);
    expect(recorder.count(CREDIT, 'executed')).toBe(1);
    expect(rmq.ledger.runsOf(event.ref)).toBe(1);

    const request = credit();
    const first = await rmq.send('ledger.transfer', request, { messageId: request.ref });
    expect(await rmq.send('ledger.transfer', request, { messageId: request.ref })).toEqual(first);
    expect(rmq.ledger.runsOf(request.ref)).toBe(1);
  });

  it('a concurrent duplicate event is dropped with a warning naming onConflict wait', async () => {
    const event = credit({ delayMs: 300 });
    await Promise.all(Array.from({ length: 3 }, () => rmq.emit('ledger.credit', event, { messageId: event.ref })));
    await waitFor(
      'the first run and two conflicts',
      () => recorder.count(CREDIT, 'executed') === 1 && recorder.count(CREDIT, 'conflict') === 2,
    );
    expect(rmq.ledger.runsOf(event.ref)).toBe(1);
    expect(recorder.warnings.join('\n')).toContain('set onConflict: { wait }');
  });
});

describeWithServices(
  ['rabbitmq'],
  '@Idempotent() on RabbitMQ, a consumer that acks by hand left at rmq.noAck: true',
  () => {
    const rmq = new RmqLedger(false, {});
    const { recorder } = rmq;

    beforeAll(() => rmq.start(), 20_000);
    afterAll(() => rmq.stop());

    it('is named in one warning', async () => {
      for (let i = 0; i < 2; i++) {
        const message = credit();
        await rmq.emit('ledger.credit', message, { messageId: message.ref });
      }
      await recorder.settled(CREDIT, 2);
      const warnings = recorder.warnings.filter((warning) => warning.includes('set rmq: { noAck: false }'));
      expect(warnings).toHaveLength(1);
    });
  },
);
