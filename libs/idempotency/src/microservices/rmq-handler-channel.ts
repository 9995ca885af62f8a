import { RmqContext } from '@nestjs/microservices';

export type SettleMethod = 'ack' | 'nack' | 'reject';

/** One settlement of a message as amqplib's channel takes it: `ack`, `nack` or `reject` and its arguments. */
export interface Settlement {
  method: SettleMethod;
  args: unknown[];
}

/** What becomes of a handler's settlement of its own message: on to the broker, or kept by the library. */
export type HandlerSettlementRoute = 'send' | 'keep';

type SettleCall = (message: unknown, ...args: unknown[]) => unknown;

/**
 * The one place the library swaps the channel a handler settles its message with. The handler reads its channel
 * from its own context (`@Ctx() context.getChannelRef()`), so the context is given a channel whose `ack`, `nack`
 * and `reject` of the context's message go to `route` first, and reach the broker only when it answers `send`;
 * other messages and every other call go straight to the broker's channel. getArgs() is the context's own array
 * and a context lives for one message only, so no other handler sees the swap. Nothing swaps it back: a handler
 * may keep the channel it read, so `route` itself lets the calls through once the library no longer holds them.
 *
 * Returns the broker's channel, which the library settles on itself.
 */
export function swapHandlerChannel(
  context: RmqContext,
  route: (settlement: Settlement) => HandlerSettlementRoute,
): any {
  const channel = context.getChannelRef();
  const message = context.getMessage();
  const settleThroughRoute =
    (method: SettleMethod): SettleCall =>
    (settled, ...args) => {
      if (settled === message && route({ method, args }) === 'keep') return undefined;
      return channel[method](settled, ...args);
    };
  const overrides: Record<SettleMethod, SettleCall> = {
    ack: settleThroughRoute('ack'),
    nack: settleThroughRoute('nack'),
    reject: settleThroughRoute('reject'),
  };
  context.getArgs()[1] = new Proxy(channel, {
    get: (target, property) => {
      if (property === 'ack' || property === 'nack' || property === 'reject') return overrides[property];
      const value = Reflect.get(target, property, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  return channel;
}
