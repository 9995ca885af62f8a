import { INestMicroservice } from '@nestjs/common';
import { ClientProxy, ClientProxyFactory, RmqRecordBuilder, Transport } from '@nestjs/microservices';
import { Test } from '@nestjs/testing';
import { Channel, ChannelModel, connect } from 'amqplib';
import { randomUUID } from 'node:crypto';
import { lastValueFrom } from 'rxjs';
import { IdempotencyModule, MemoryIdempotencyStore } from '@nest-idempotency/core';
import { describeWithServices, TEST_SERVICES } from '../support/services';
import { Recorder, waitFor } from './broker-test-support';
import { MAX_MESSAGE_BYTES, Order, RefusingConsumer } from './refusing-consumer.controller';

describeWithServices(['rabbitmq'], 'messages the library refuses on RabbitMQ (manual acknowledgement)', () => {
  const queue = `idempotency-refused-${randomUUID()}`;
  const deadLetters = `${queue}.dead`;
  const queueOptions = {
    durable: false,
    arguments: { 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': deadLetters },
  };
  const recorder = new Recorder();
  let app: INestMicroservice;
  let consumer: RefusingConsumer;
  let client: ClientProxy;
  let admin: ChannelModel;
  let channel: Channel;

  beforeAll(async () => {
    admin = await connect(TEST_SERVICES.rabbitmq);
    channel = await admin.createChannel();
    await channel.assertQueue(deadLetters, { durable: false });
    await channel.assertQueue(queue, queueOptions);
    const moduleRef = await Test.createTestingModule({
      imports: [
        IdempotencyModule.forRoot({
          store: new MemoryIdempotencyStore(),
          rmq: { noAck: false },
          events: recorder.listener,
        }),
      ],
      controllers: [RefusingConsumer],
    }).compile();
    app = moduleRef.createNestMicroservice({
      transport: Transport.RMQ,
      // Two unacknowledged messages stall this consumer: the poison ones must not be them.
      options: { urls: [TEST_SERVICES.rabbitmq], queue, queueOptions, noAck: false, prefetchCount: 2 },
      logger: false,
    });
    app.useLogger(recorder.logger);
    await app.listen();
    consumer = app.get(RefusingConsumer);
    client = ClientProxyFactory.create({
      transport: Transport.RMQ,
      options: { urls: [TEST_SERVICES.rabbitmq], queue, queueOptions },
    });
    await client.connect();
  }, 20_000);

  afterAll(async () => {
    await client?.close();
    await app?.close();
    await channel?.deleteQueue(queue).catch(() => undefined);
    await channel?.deleteQueue(deadLetters).catch(() => undefined);
    await admin?.close();
  });

  beforeEach(() => recorder.clear());

  /** Publishes as Nest's client does (its envelope), with AMQP properties of the test's choosing. */
  const publish = (pattern: string, order: Order, properties: Record<string, unknown>) =>
    channel.sendToQueue(queue, Buffer.from(JSON.stringify({ pattern, data: order })), properties);

  /** Every message dead-lettered so far, waiting until there are `count`. */
  const deadLettered = async (count: number): Promise<Array<{ pattern: string; data: Order }>> => {
    const messages: Array<{ pattern: string; data: Order }> = [];
    await waitFor(`${count} dead-lettered messages`, async () => {
      const message = await channel.get(deadLetters, { noAck: true });
      if (message) messages.push(JSON.parse(message.content.toString()));
      return messages.length >= count;
    });
    return messages;
  };

  const order = (overrides: Partial<Order> = {}): Order => ({ ref: randomUUID(), account: 'acct-1', ...overrides });

  it('rejects messages whose scope throws or rejects, and goes on: the valid ones behind them run', async () => {
    const poison = [order({ account: undefined }), order({ account: undefined })];
    const valid = [order(), order()];
    publish('orders.scoped', poison[0], { messageId: poison[0].ref });
    publish('orders.scoped-async', poison[1], { messageId: poison[1].ref });
    for (const message of valid) publish('orders.scoped', message, { messageId: message.ref });

    await waitFor('both valid messages run', () => valid.every((message) => consumer.runsOf(message.ref) === 1), 2_000);
    const dead = await deadLettered(2);
    expect(dead.map((message) => message.data.ref).sort()).toEqual(poison.map((message) => message.ref).sort());
    expect(poison.map((message) => consumer.runsOf(message.ref))).toEqual([0, 0]);
    // One warning per poison message, naming the handler and why.
    const refusals = recorder.warnings.filter((warning) => warning.includes('IDEMPOTENCY_OPTION_FAILED'));
    expect(refusals).toHaveLength(2);
    expect(refusals.join('\n')).toContain('[RefusingConsumer.scoped]');
    expect(refusals.join('\n')).toContain('[RefusingConsumer.scopedAsync]');
    expect(refusals.join('\n')).toContain('the idempotency option "scope" threw: Cannot read properties');
  });

  it('refuses a message over maxMessageBytes without running it: dead-lettered, a request told why', async () => {
    const large = order({ note: 'x'.repeat(MAX_MESSAGE_BYTES) });
    publish('orders.bounded', large, { messageId: large.ref });
    expect((await deadLettered(1))[0].data.ref).toBe(large.ref);

    const request = order({ note: 'y'.repeat(MAX_MESSAGE_BYTES) });
    const sent = lastValueFrom(
      client.send(
        'orders.bounded-request',
        new RmqRecordBuilder(request).setOptions({ messageId: request.ref }).build(),
      ),
    );
    await expect(sent).rejects.toEqual({
      code: 'IDEMPOTENCY_PAYLOAD_TOO_LARGE',
      message: expect.stringContaining(`over maxMessageBytes (${MAX_MESSAGE_BYTES})`),
      retryable: false,
    });
    await deadLettered(1);
    expect(consumer.runsOf(large.ref) + consumer.runsOf(request.ref)).toBe(0);

    // A message under the bound runs as ever.
    const small = order({ note: 'z'.repeat(1_000) });
    publish('orders.bounded', small, { messageId: small.ref });
    await waitFor('the small message runs', () => consumer.runsOf(small.ref) === 1);
  });

  it.each([
    ['a number', 42],
    ['a boolean', true],
    ['a table', { key: 'k-1' }],
  ])('refuses an Idempotency-Key header that is %s, rather than reading it as text', async (_, value) => {
    const message = order();
    publish('orders.bounded', message, { headers: { 'Idempotency-Key': value } });
    expect((await deadLettered(1))[0].data.ref).toBe(message.ref);
    expect(consumer.runsOf(message.ref)).toBe(0);
    expect(recorder.count('event orders.bounded', 'invalid_key')).toBe(1);
  });

  it('leaves no message unacknowledged (the queue is empty once the consumer stops)', async () => {
    // An unacknowledged message goes back to the queue when its consumer's channel closes.
    await client.close();
    await app.close();
    expect((await channel.checkQueue(queue)).messageCount).toBe(0);
  });
});
