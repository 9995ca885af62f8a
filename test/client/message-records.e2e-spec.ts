import { INestMicroservice } from '@nestjs/common';
import { ClientOptions, ClientProxy, ClientProxyFactory, MicroserviceOptions, Transport } from '@nestjs/microservices';
import { Test } from '@nestjs/testing';
import { randomUUID } from 'node:crypto';
import { lastValueFrom } from 'rxjs';
import { IdempotencyModule, MemoryIdempotencyStore } from '@nest-idempotency/core';
import { idempotencyKeyFor, idempotentNatsRecord, idempotentRmqRecord } from '@nest-idempotency/core/client';
import { describeWithServices, TEST_SERVICES } from '../support/services';
import { Recorder, waitFor } from '../microservices/broker-test-support';
import { Credit, LedgerController } from '../microservices/ledger.controller';

const CREDIT = 'event ledger.credit';
const TRANSFER = 'message ledger.transfer';

const credit = (): Credit => ({ ref: randomUUID(), account: `acct-${randomUUID()}`, amount: 10 });

/** The ledger consumer on `transport`, and a client for it. */
async function startLedger(
  recorder: Recorder,
  transport: Transport.RMQ | Transport.NATS,
  options: Record<string, unknown>,
): Promise<{ app: INestMicroservice; client: ClientProxy; ledger: LedgerController }> {
  const moduleRef = await Test.createTestingModule({
    imports: [
      IdempotencyModule.forRoot({
        store: new MemoryIdempotencyStore(),
        lockTimeout: 2_000,
        retryAfter: 100,
        events: recorder.listener,
      }),
    ],
    controllers: [LedgerController],
  }).compile();
  const app = moduleRef.createNestMicroservice<MicroserviceOptions>({
    transport,
    options,
    logger: false,
  } as MicroserviceOptions);
  app.useLogger(recorder.logger);
  await app.listen();
  const client = ClientProxyFactory.create({ transport, options } as ClientOptions);
  await client.connect();
  return { app, client, ledger: app.get(LedgerController) };
}

describeWithServices(['rabbitmq'], 'idempotentRmqRecord: the key as the AMQP messageId', () => {
  const recorder = new Recorder();
  const queue = `idempotency-client-rmq-${randomUUID()}`;
  let started: Awaited<ReturnType<typeof startLedger>>;

  beforeAll(async () => {
    started = await startLedger(recorder, Transport.RMQ, {
      urls: [TEST_SERVICES.rabbitmq],
      queue,
      queueOptions: { durable: false, autoDelete: true },
    });
  }, 20_000);
  afterAll(async () => {
    await started?.client.close();
    await started?.app.close();
  });

  it('an event published twice with the same intent runs once', async () => {
    const message = credit();
    for (let i = 0; i < 2; i++) {
      // A restarted publisher derives the same key from the same intent.
      const record = idempotentRmqRecord(message, idempotencyKeyFor('credit', message.ref), { persistent: false });
      expect(record.options).toMatchObject({ messageId: `credit:${message.ref}`, persistent: false });
      await lastValueFrom(started.client.emit('ledger.credit', record), { defaultValue: undefined });
    }
    await waitFor('both copies answered', () => recorder.count(CREDIT, 'executed', 'replayed', 'conflict') === 2);
    expect(recorder.count(CREDIT, 'executed')).toBe(1);
    expect(started.ledger.runsOf(message.ref)).toBe(1);
    expect(started.ledger.balances.get(message.account)).toBe(10);
  });

  it('a request sent twice runs once and both get the same reply', async () => {
    const message = credit();
    const key = idempotencyKeyFor('transfer', message.ref);
    const first = await lastValueFrom(started.client.send('ledger.transfer', idempotentRmqRecord(message, key)));
    const second = await lastValueFrom(started.client.send('ledger.transfer', idempotentRmqRecord(message, key)));
    expect(second).toEqual(first);
    expect(started.ledger.runsOf(message.ref)).toBe(1);
    expect(recorder.count(TRANSFER, 'replayed')).toBeGreaterThanOrEqual(1);
  });

  it('refuses an invalid key before anything is published', () => {
    expect(() => idempotentRmqRecord(credit(), 'not a key')).toThrow(TypeError);
  });
});

describeWithServices(['nats'], 'idempotentNatsRecord: the key in the Idempotency-Key header', () => {
  const recorder = new Recorder();
  const queue = `idempotency-client-nats-${randomUUID()}`;
  let started: Awaited<ReturnType<typeof startLedger>>;

  beforeAll(async () => {
    started = await startLedger(recorder, Transport.NATS, { servers: [TEST_SERVICES.nats], queue });
    // The server's subscriptions reach NATS on their own connection: a reply proves they have.
    await waitFor('the consumer to answer', () =>
      lastValueFrom(started.client.send('ledger.transfer', idempotentNatsRecord(credit(), randomUUID()))).then(
        () => true,
        () => false,
      ),
    );
  }, 20_000);
  afterAll(async () => {
    await started?.client.close();
    await started?.app.close();
  });

  it('an event published twice with the same intent runs once', async () => {
    const message = credit();
    for (let i = 0; i < 2; i++) {
      const record = idempotentNatsRecord(message, idempotencyKeyFor('credit', message.ref));
      await lastValueFrom(started.client.emit('ledger.credit', record), { defaultValue: undefined });
    }
    await waitFor('both copies answered', () => recorder.count(CREDIT, 'executed', 'replayed', 'conflict') === 2);
    expect(recorder.count(CREDIT, 'executed')).toBe(1);
    expect(started.ledger.runsOf(message.ref)).toBe(1);
  });

  it('a request sent twice runs once and both get the same reply', async () => {
    const message = credit();
    const key = idempotencyKeyFor('transfer', message.ref);
    const first = await lastValueFrom(started.client.send('ledger.transfer', idempotentNatsRecord(message, key)));
    const second = await lastValueFrom(started.client.send('ledger.transfer', idempotentNatsRecord(message, key)));
    expect(second).toEqual(first);
    expect(started.ledger.runsOf(message.ref)).toBe(1);
  });
});
