import { Controller, Post, Type } from '@nestjs/common';
import { EventPattern } from '@nestjs/microservices';
import { Test } from '@nestjs/testing';
import { Idempotent, IdempotencyModule, IdempotentRouteOptions } from '@nest-idempotency/core';

/** Boots an app of `controllers` far enough for the start-up validation to run, and closes it. */
async function boot(controllers: Type[], options: IdempotentRouteOptions = {}): Promise<void> {
  const moduleRef = await Test.createTestingModule({
    imports: [IdempotencyModule.forRoot(options)],
    controllers,
  }).compile();
  const app = moduleRef.createNestApplication({ logger: false });
  try {
    await app.init();
  } finally {
    await app.close();
  }
}

describe('message handler options, checked at start-up', () => {
  it('refuses the "key" option on an HTTP route, naming it and the header it reads', async () => {
    @Controller('orders')
    class OrdersController {
      @Post()
      @Idempotent({ key: () => 'k' })
      create() {
        return {};
      }
    }
    await expect(boot([OrdersController])).rejects.toThrow(
      '@Idempotent() on OrdersController.create: the "key" option is for message handlers; an HTTP route reads its key from the "Idempotency-Key" header',
    );
  });

  it('refuses the message-only options on an HTTP route, where they would do nothing', async () => {
    @Controller('refunds')
    class RefundsController {
      @Post()
      @Idempotent({ messageKeySpace: 'shared' })
      create() {
        return {};
      }
    }
    await expect(boot([RefundsController])).rejects.toThrow(
      '@Idempotent() on RefundsController.create: the "messageKeySpace" option is for message handlers; it does nothing on an HTTP route',
    );
  });

  it('refuses two idempotent handlers of one event under one keyPrefix, and accepts them apart', async () => {
    @Controller()
    class Billing {
      @EventPattern('order.placed')
      @Idempotent()
      bill() {}
    }
    @Controller()
    class Shipping {
      @EventPattern('order.placed')
      @Idempotent()
      ship() {}
    }
    await expect(boot([Billing, Shipping])).rejects.toThrow(
      '@Idempotent() on Shipping.ship: it handles event "order.placed" as Billing.bill does, under the same keyPrefix "idempotency"',
    );

    @Controller()
    class ShippingApart {
      @EventPattern('order.placed')
      @Idempotent({ keyPrefix: 'shipping' })
      ship() {}
    }
    await expect(boot([Billing, ShippingApart])).resolves.toBeUndefined();
  });

  it.each([
    [
      { key: 'messageId' },
      'Idempotency option "key" must be a function of the execution context returning the key, got the string "messageId"',
    ],
    [{ rmq: true }, 'Idempotency option "rmq" must be an object such as { noAck: false }, got true'],
    [{ rmq: { noAck: 'no' } }, 'Idempotency option "rmq.noAck" must be true or false, got the string "no"'],
    [{ maxMessageBytes: 0 }, 'Idempotency option "maxMessageBytes" must be a positive whole number, got 0'],
    [
      { messageKeySpace: 'everywhere' },
      `Idempotency option "messageKeySpace" must be 'separate' or 'shared', got the string "everywhere"`,
    ],
  ])('refuses %j', async (options, message) => {
    await expect(boot([], options as unknown as IdempotentRouteOptions)).rejects.toThrow(message);
  });
});
