import request from 'supertest';
import { randomUUID } from 'node:crypto';
import { Body, Controller, Post } from '@nestjs/common';
import { EventPattern } from '@nestjs/microservices';
import { NestExpressApplication } from '@nestjs/platform-express';
import { Test } from '@nestjs/testing';
import {
  IdempotencyModule,
  IdempotencyStore,
  Idempotent,
  IdempotentRouteOptions,
  sharedScope,
} from '@nest-idempotency/core';
import { EVERY_STORE } from '../support/every-store';
import { AdapterFactory, bootAndClose, HTTP_ADAPTERS, RunningApp } from '../support/http-app';
import { describeWithServices } from '../support/services';
import { CallCounter } from './fixture.controller';

const runs = new CallCounter();

/** Trace ids and send times change on every retry; the transfer is its amount and channel. */
const WITHOUT_NOISE: IdempotentRouteOptions = {
  scope: sharedScope,
  fingerprint: { exclude: ['sentAt', 'meta.traceId'] },
};
/** A quote is its amount, its customer and which SKUs it lists; names, quantities and notes do not count. */
const ONLY_TERMS: IdempotentRouteOptions = {
  scope: sharedScope,
  fingerprint: { include: ['amount', 'customer.id', 'items.*.sku'] },
};

@Controller()
class PricingController {
  @Post('transfers')
  @Idempotent(WITHOUT_NOISE)
  transfer(@Body() body: { amount: number }) {
    return { run: runs.hit('transfer'), amount: body.amount };
  }

  @Post('quotes')
  @Idempotent(ONLY_TERMS)
  quote(@Body() body: unknown) {
    return { run: runs.hit('quote'), quoted: body };
  }
}

/**
 * The app on one platform, with Express also parsing text/plain (Fastify does by default), so a raw text body
 * reaches the interceptor on both.
 */
async function startPricingApp(
  platform: string,
  adapter: AdapterFactory,
  store: IdempotencyStore,
  keyPrefix: string,
): Promise<RunningApp> {
  const moduleRef = await Test.createTestingModule({
    imports: [IdempotencyModule.forRoot({ store, keyPrefix })],
    controllers: [PricingController],
  }).compile();
  const app = moduleRef.createNestApplication(adapter(), { logger: false });
  if (platform === 'express') (app as NestExpressApplication).useBodyParser('text');
  await app.listen(0, '127.0.0.1');
  const url = (await app.getUrl()).replace('[::1]', '127.0.0.1');
  return { app, url, close: () => app.close() };
}

for (const [platform, adapter] of HTTP_ADAPTERS) {
  for (const setup of EVERY_STORE) {
    describeWithServices(setup.services, `fingerprint include/exclude over HTTP (${platform}, ${setup.name})`, () => {
      let running: RunningApp;
      let drop: () => Promise<void>;

      beforeAll(async () => {
        const opened = await setup.open();
        drop = opened.drop;
        running = await startPricingApp(platform, adapter, opened.store, `fp-subset-${randomUUID()}`);
      });
      afterAll(async () => {
        await running?.close();
        await drop?.();
      });
      beforeEach(() => runs.reset());

      const post = (path: string, key: string, body: object) =>
        request(running.url).post(path).set('Idempotency-Key', key).send(body);

      describe('exclude', () => {
        const first = { amount: 100, sentAt: '13:00:00', meta: { traceId: 't-1', channel: 'web' } };

        it('replays a retry that changed only excluded fields: same response, marked replayed', async () => {
          const key = randomUUID();
          const original = await post('/transfers', key, first).expect(201);
          const retry = await post('/transfers', key, {
            ...first,
            sentAt: '13:00:05',
            meta: { traceId: 't-2', channel: 'web' },
          });
          expect(retry.status).toBe(201);
          expect(retry.headers['idempotent-replayed']).toBe('true');
          expect(retry.body).toEqual(original.body);
          expect(runs.of('transfer')).toBe(1);
        });

        it('refuses with 422 a retry that changed a field that is not excluded, a sibling of one included', async () => {
          const key = randomUUID();
          await post('/transfers', key, first).expect(201);
          await post('/transfers', key, { ...first, amount: 101 }).expect(422);
          await post('/transfers', key, { ...first, meta: { traceId: 't-1', channel: 'app' } }).expect(422);
          expect(runs.of('transfer')).toBe(1);
        });
      });

      describe('include', () => {
        const first = {
          amount: 5,
          customer: { id: 'c-1', name: 'Ada' },
          items: [{ sku: 'a', qty: 1 }],
          note: 'first try',
        };

        it('replays a retry that changed only what is outside the included paths', async () => {
          const key = randomUUID();
          const original = await post('/quotes', key, first).expect(201);
          const retry = await post('/quotes', key, {
            amount: 5,
            customer: { id: 'c-1', name: 'Ada Lovelace' },
            items: [{ sku: 'a', qty: 3 }],
            sentAt: '13:00:05',
          });
          expect(retry.status).toBe(201);
          expect(retry.headers['idempotent-replayed']).toBe('true');
          expect(retry.body).toEqual(original.body);
          expect(runs.of('quote')).toBe(1);
        });

        it.each<[string, object]>([
          ['the amount', { ...first, amount: 6 }],
          ['the customer id', { ...first, customer: { id: 'c-2', name: 'Ada' } }],
          ['an item sku', { ...first, items: [{ sku: 'b', qty: 1 }] }],
          ['one more item', { ...first, items: [...first.items, { sku: 'c', qty: 1 }] }],
          ['a missing amount', { customer: first.customer, items: first.items }],
        ])('refuses with 422 a retry that changed %s', async (_change, retry) => {
          const key = randomUUID();
          await post('/quotes', key, first).expect(201);
          await post('/quotes', key, retry).expect(422);
          expect(runs.of('quote')).toBe(1);
        });

        it('tells an absent included field from one sent as null', async () => {
          const key = randomUUID();
          await post('/quotes', key, { customer: { id: 'c-1' } }).expect(201);
          await post('/quotes', key, { amount: null, customer: { id: 'c-1' } }).expect(422);
        });
      });

      it('keeps the path in the fingerprint: the same key and body on another route is a 422', async () => {
        const key = randomUUID();
        const body = { amount: 5, customer: { id: 'c-1' } };
        await post('/transfers', key, body).expect(201);
        await post('/quotes', key, body).expect(422);
      });

      it('refuses a raw text body on a route that selects fields with 400, without using the key', async () => {
        const key = randomUUID();
        const raw = await request(running.url)
          .post('/quotes')
          .set('Idempotency-Key', key)
          .set('Content-Type', 'text/plain')
          .send('amount=5');
        expect(raw.status).toBe(400);
        expect(raw.body.message).toBe(
          'The request body cannot be fingerprinted: it is a string, and fingerprint.include selects fields of a JSON object or array.',
        );
        expect(runs.of('quote')).toBe(0);
        await post('/quotes', key, { amount: 5 }).expect(201);
      });
    });
  }
}

describe('fingerprint include/exclude, checked at start-up', () => {
  const bootRoute = (options: IdempotentRouteOptions) => {
    @Controller('payments')
    class PaymentsController {
      @Post()
      @Idempotent(options)
      create() {
        return {};
      }
    }
    return bootAndClose({ imports: [IdempotencyModule.forRoot({})], controllers: [PaymentsController] });
  };

  it.each<[string, IdempotentRouteOptions['fingerprint'], string]>([
    ['an empty path', { exclude: [''] }, 'Idempotency option "fingerprint.exclude": the path "" is empty'],
    [
      'an empty segment',
      { include: ['customer..id'] },
      'Idempotency option "fingerprint.include": the path "customer..id" has an empty segment',
    ],
    [
      'a path given twice',
      { exclude: ['sentAt', 'sentAt'] },
      'Idempotency option "fingerprint.exclude" lists the path "sentAt" twice',
    ],
    [
      'a path that is not a string',
      { include: ['amount', 5 as never] },
      'Idempotency option "fingerprint.include" must be an array of dot paths such as ["amount", "customer.id", "items.*.sku"], got the array ["amount",5]',
    ],
    [
      'include with exclude',
      { include: ['amount'], exclude: ['sentAt'] },
      'Idempotency options "fingerprint.include" and "fingerprint.exclude" exclude each other',
    ],
  ])('refuses %s on an HTTP route, naming the handler and the path', async (_case, fingerprint, message) => {
    await expect(bootRoute({ fingerprint })).rejects.toThrow(`@Idempotent() on PaymentsController.create: ${message}`);
  });

  it('refuses a bad path on a message handler, naming it', async () => {
    @Controller()
    class ShippingConsumer {
      @EventPattern('order.paid')
      @Idempotent({ fingerprint: { exclude: ['meta.'] } })
      ship() {}
    }
    await expect(
      bootAndClose({ imports: [IdempotencyModule.forRoot({})], controllers: [ShippingConsumer] }),
    ).rejects.toThrow(
      '@Idempotent() on ShippingConsumer.ship: Idempotency option "fingerprint.exclude": the path "meta." has an empty segment',
    );
  });

  it('refuses a bad module-wide path before any handler is looked at', async () => {
    await expect(
      bootAndClose({
        imports: [IdempotencyModule.forRoot({ fingerprint: { include: [] } })],
        controllers: [PricingController],
      }),
    ).rejects.toThrow('Idempotency option "fingerprint.include" is empty');
  });
});
