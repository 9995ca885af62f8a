import 'reflect-metadata';
import { IdempotencyConfiguration } from './idempotency-configuration';
import { IDEMPOTENCY_ROUTE_OPTIONS } from './idempotency.constants';
import { IdempotentRouteOptions } from './idempotency-options.interface';

/** What `@Idempotent(options)` leaves on a class or a method, without loading Nest's decorators. */
function declare(target: object, options: IdempotentRouteOptions): void {
  Reflect.defineMetadata(IDEMPOTENCY_ROUTE_OPTIONS, options, target);
}

describe('HandlerOptionsRegistry', () => {
  class Payments {
    pay(): void {}
    refund(): void {}
  }
  class Refunds extends Payments {}
  declare(Payments, { ttl: 60_000 });
  declare(Refunds, { ttl: 120_000 });
  declare(Payments.prototype.pay, { lockTimeout: 5_000 });

  it("resolves a handler's options once: the class's, overridden by the method's, over the module's", () => {
    const { handlers } = new IdempotencyConfiguration({ keyPrefix: 'shop' });
    const first = handlers.optionsOf(Payments, Payments.prototype.pay);
    expect(first.declared).toEqual({ ttl: 60_000, lockTimeout: 5_000 });
    expect(first.resolved).toMatchObject({ keyPrefix: 'shop', ttl: 60_000, lockTimeout: 5_000 });
    expect(handlers.optionsOf(Payments, Payments.prototype.pay)).toBe(first);
  });

  it("gives a method a base class declares each subclass's own class-wide options", () => {
    const { handlers } = new IdempotencyConfiguration();
    expect(handlers.optionsOf(Payments, Payments.prototype.refund).resolved.ttl).toBe(60_000);
    expect(handlers.optionsOf(Refunds, Payments.prototype.refund).resolved.ttl).toBe(120_000);
  });

  it('keeps nothing for a handler whose options fail, so each use refuses it again', () => {
    class Broken {
      handle(): void {}
    }
    declare(Broken.prototype.handle, { ttl: -1 });
    const { handlers } = new IdempotencyConfiguration();
    expect(() => handlers.optionsOf(Broken, Broken.prototype.handle)).toThrow('ttl');
    expect(() => handlers.optionsOf(Broken, Broken.prototype.handle)).toThrow('ttl');
  });
});
