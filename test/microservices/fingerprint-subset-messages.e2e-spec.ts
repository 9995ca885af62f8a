import { Controller, INestMicroservice } from '@nestjs/common';
import {
  ClientProxy,
  ClientProxyFactory,
  MessagePattern,
  NatsRecordBuilder,
  Payload,
  Transport,
} from '@nestjs/microservices';
import { Test } from '@nestjs/testing';
import { natsHeaders } from '../support/nats-headers';
import { randomUUID } from 'node:crypto';
import { lastValueFrom } from 'rxjs';
import { IdempotencyModule, Idempotent } from '@nest-idempotency/core';
import { EVERY_STORE } from '../support/every-store';
import { describeWithServices, TEST_SERVICES } from '../support/services';
import { CallCounter } from '../idempotency/fixture.controller';
import { Recorder, waitForConsumer } from './broker-test-support';

const runs = new CallCounter();
// Subjects of this suite alone, so no other suite's consumer on the same NATS server answers them.
const SHIP = `fp-subset.${randomUUID()}.ship`;
const RESERVE = `fp-subset.${randomUUID()}.reserve`;

@Controller()
class WarehouseConsumer {
  /** A shipment is its order and address; the producer stamps every publish with a new time and nonce. */
  @MessagePattern(SHIP)
  @Idempotent({ fingerprint: { exclude: ['publishedAt', 'headers.nonce'] } })
  ship(@Payload() order: { orderId: string }) {
    return { run: runs.hit('ship'), orderId: order.orderId };
  }

  /** A reservation is its SKUs and quantities; anything else the producer adds does not count. */
  @MessagePattern(RESERVE)
  @Idempotent({ fingerprint: { include: ['lines.*.sku', 'lines.*.qty'] } })
  reserve(@Payload() reservation: unknown) {
    return { run: runs.hit('reserve'), reservation };
  }
}

for (const setup of EVERY_STORE) {
  describeWithServices(
    ['nats', ...setup.services],
    `fingerprint include/exclude on NATS messages (${setup.name})`,
    () => {
      const recorder = new Recorder();
      let app: INestMicroservice;
      let client: ClientProxy;
      let drop: () => Promise<void>;

      /** A request-reply with the key in the Idempotency-Key header, as a NATS producer sends it. */
      const send = (subject: string, payload: unknown, key: string): Promise<any> => {
        const headers = natsHeaders();
        headers.set('Idempotency-Key', key);
        return lastValueFrom(client.send(subject, new NatsRecordBuilder(payload).setHeaders(headers).build()));
      };
      const outcomes = () => recorder.events.map((event) => event.outcome);

      beforeAll(async () => {
        const opened = await setup.open();
        drop = opened.drop;
        const moduleRef = await Test.createTestingModule({
          imports: [
            IdempotencyModule.forRoot({
              store: opened.store,
              keyPrefix: `fp-subset-${randomUUID()}`,
              events: recorder.listener,
            }),
          ],
          controllers: [WarehouseConsumer],
        }).compile();
        app = moduleRef.createNestMicroservice({
          transport: Transport.NATS,
          options: { servers: [TEST_SERVICES.nats], queue: `fp-subset-${randomUUID()}` },
          logger: false,
        });
        app.useLogger(recorder.logger);
        await app.listen();
        client = ClientProxyFactory.create({ transport: Transport.NATS, options: { servers: [TEST_SERVICES.nats] } });
        await client.connect();
        await waitForConsumer(() => send(SHIP, { orderId: 'warm-up' }, randomUUID()));
      }, 20_000);
      afterAll(async () => {
        await client?.close();
        await app?.close();
        await drop?.();
      });
      beforeEach(() => {
        runs.reset();
        recorder.clear();
      });

      describe('exclude', () => {
        const first = { orderId: 'o-1', address: 'Rue 1', publishedAt: '13:00:00', headers: { nonce: 'n-1' } };

        it('answers a copy that changed only excluded fields with the stored reply, and does not run it', async () => {
          const key = randomUUID();
          const reply = await send(SHIP, first, key);
          const again = await send(SHIP, { ...first, publishedAt: '13:00:05', headers: { nonce: 'n-2' } }, key);
          expect(again).toEqual(reply);
          expect(runs.of('ship')).toBe(1);
          expect(outcomes()).toEqual(['executed', 'replayed']);
        });

        it('refuses a copy that changed a field that is not excluded, never running it', async () => {
          const key = randomUUID();
          await send(SHIP, first, key);
          await expect(send(SHIP, { ...first, address: 'Rue 2' }, key)).rejects.toMatchObject({
            code: 'IDEMPOTENCY_KEY_MISMATCH',
            retryable: false,
          });
          expect(runs.of('ship')).toBe(1);
          expect(outcomes()).toEqual(['executed', 'mismatch']);
        });
      });

      describe('include', () => {
        const first = { lines: [{ sku: 'a', qty: 1, label: 'Apples' }], requestedBy: 'ops', traceId: 't-1' };

        it('answers a copy that changed only what is outside the included paths with the stored reply', async () => {
          const key = randomUUID();
          const reply = await send(RESERVE, first, key);
          const again = await send(
            RESERVE,
            { lines: [{ qty: 1, sku: 'a', label: 'Green apples' }], traceId: 't-2' },
            key,
          );
          expect(again).toEqual(reply);
          expect(runs.of('reserve')).toBe(1);
          expect(outcomes()).toEqual(['executed', 'replayed']);
        });

        it('refuses a copy that changed an included field', async () => {
          const key = randomUUID();
          await send(RESERVE, first, key);
          await expect(
            send(RESERVE, { ...first, lines: [{ sku: 'a', qty: 2, label: 'Apples' }] }, key),
          ).rejects.toMatchObject({
            code: 'IDEMPOTENCY_KEY_MISMATCH',
          });
          expect(runs.of('reserve')).toBe(1);
        });

        it('refuses a payload that is not an object, which it cannot select from, for good', async () => {
          await expect(send(RESERVE, 'a,1', randomUUID())).rejects.toEqual({
            code: 'IDEMPOTENCY_PAYLOAD_UNREADABLE',
            message:
              'The payload cannot be fingerprinted: it is a string, and fingerprint.include selects fields of a JSON object or array.',
            retryable: false,
          });
          expect(runs.of('reserve')).toBe(0);
        });
      });

      it('keeps the pattern in the fingerprint: the same key and payload on another subject is refused', async () => {
        const key = randomUUID();
        const payload = { orderId: 'o-1', lines: [{ sku: 'a', qty: 1 }] };
        await send(SHIP, payload, key);
        await expect(send(RESERVE, payload, key)).rejects.toMatchObject({ code: 'IDEMPOTENCY_KEY_MISMATCH' });
      });
    },
  );
}
