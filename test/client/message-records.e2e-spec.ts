import { INestMicroservice } from '@nestjs/common';
import { ClientOptions, ClientProxy, ClientProxyFactory, MicroserviceOptions, Transport } from '@nestjs/microservices';
import { randomUUID } from 'node:crypto';
import { lastValueFrom } from 'rxjs';
import { idempotencyKeyFor, idempotentNatsRecord, idempotentRmqRecord } from '@nest-idempotency/core/client';
import { describeWithServices, TEST_SERVICES, TestService } from '../support/services';
import { compileLedger, Recorder, waitFor, waitForConsumer } from '../microservices/broker-test-support';
import { Credit, LedgerController } from '../microservices/ledger.controller';

const CREDIT = 'event ledger.credit';
const TRANSFER = 'message ledger.transfer';

const credit = (): Credit => ({ ref: randomUUID(), account: `acct-${randomUUID()}`, amount: 10 });

/** A broker, its transport's options for one run, and the helper that keys a record for it. */
interface Broker {
  service: TestService;
  transport: Transport.RMQ | Transport.NATS;
  options: () => Record<string, unknown>;
  record: (data: Credit, key: string) => unknown;
}

const BROKERS: [name: string, broker: Broker][] = [
  [
    'idempotentRmqRecord (the key as the AMQP messageId) on RabbitMQ',
    {
      service: 'rabbitmq',
      transport: Transport.RMQ,
      options: () => ({
        urls: [TEST_SERVICES.rabbitmq],
        queue: `idempotency-client-rmq-${randomUUID()}`,
        queueOptions: { durable: false, autoDelete: true },
      }),
      record: (data, key) => idempotentRmqRecord(data, key, { persistent: false }),
    },
  ],
  [
    'idempotentNatsRecord (the key in the Idempotency-Key header) on NATS',
    {
      service: 'nats',
      transport: Transport.NATS,
      options: () => ({ servers: [TEST_SERVICES.nats], queue: `idempotency-client-nats-${randomUUID()}` }),
      record: (data, key) => idempotentNatsRecord(data, key),
    },
  ],
];

describe.each(BROKERS)('%s', (_name, broker) => {
  describeWithServices([broker.service], 'against an @Idempotent() consumer', () => {
    const recorder = new Recorder();
    let app: INestMicroservice;
    let client: ClientProxy;
    let ledger: LedgerController;

    beforeAll(async () => {
      const options = broker.options();
      const moduleRef = await compileLedger(recorder);
      app = moduleRef.createNestMicroservice<MicroserviceOptions>({
        transport: broker.transport,
        options,
        logger: false,
      } as MicroserviceOptions);
      app.useLogger(recorder.logger);
      await app.listen();
      ledger = app.get(LedgerController);
      client = ClientProxyFactory.create({ transport: broker.transport, options } as ClientOptions);
      await client.connect();
      await waitForConsumer(() => lastValueFrom(client.send('ledger.transfer', broker.record(credit(), randomUUID()))));
    }, 20_000);
    afterAll(async () => {
      await client?.close();
      await app?.close();
    });

    it('an event published twice with the same intent runs once', async () => {
      const message = credit();
      for (let i = 0; i < 2; i++) {
        // A restarted publisher derives the same key from the same intent.
        const record = broker.record(message, idempotencyKeyFor('credit', message.ref));
        await lastValueFrom(client.emit('ledger.credit', record), { defaultValue: undefined });
      }
      await waitFor('both copies answered', () => recorder.count(CREDIT, 'executed', 'replayed', 'conflict') === 2);
      expect(recorder.count(CREDIT, 'executed')).toBe(1);
      expect(ledger.runsOf(message.ref)).toBe(1);
      expect(ledger.balances.get(message.account)).toBe(10);
    });

    it('a request sent twice runs once and both get the same reply', async () => {
      const message = credit();
      const key = idempotencyKeyFor('transfer', message.ref);
      const first = await lastValueFrom(client.send('ledger.transfer', broker.record(message, key)));
      const second = await lastValueFrom(client.send('ledger.transfer', broker.record(message, key)));
      expect(second).toEqual(first);
      expect(ledger.runsOf(message.ref)).toBe(1);
      expect(recorder.count(TRANSFER, 'replayed')).toBeGreaterThanOrEqual(1);
    });

    it('refuses an invalid key before anything is published', () => {
      expect(() => broker.record(credit(), 'not a key')).toThrow(TypeError);
    });
  });
});

describe('the records', () => {
  it('carry the key where the consumer reads it, and keep the other AMQP properties', () => {
    expect(idempotentRmqRecord({ a: 1 }, 'credit:1', { persistent: true })).toMatchObject({
      data: { a: 1 },
      options: { messageId: 'credit:1', persistent: true },
    });
    const nats = idempotentNatsRecord({ a: 1 }, 'credit:1') as { headers: { get(name: string): string } };
    expect(nats.headers.get('Idempotency-Key')).toBe('credit:1');
  });
});
