import { Logger } from '@nestjs/common';
import { RmqContext } from '@nestjs/microservices';
import { describeError } from '../core/describe-error';

type SettleMethod = 'ack' | 'nack' | 'reject';

/** The handler's own settlement of its message, made while the library held it. */
interface HeldSettlement {
  method: SettleMethod;
  args: unknown[];
}

/**
 * One RabbitMQ delivery under manual acknowledgement (`noAck: false`), where Nest leaves acking to the handler.
 * The handler sees a channel whose `ack`/`nack`/`reject` of this message are held until the idempotency record
 * is settled (so an ack never reaches the broker before the record, or the transaction, commits), and the
 * library settles the message itself when it does not run the handler. Each message is settled at most once.
 */
export class RmqDelivery {
  private held: HeldSettlement | undefined;
  private holding = true;
  private settled = false;
  private readonly channel: any;
  private readonly message: Record<string, any>;

  constructor(
    context: RmqContext,
    private readonly route: string,
    private readonly logger: Logger,
  ) {
    this.channel = context.getChannelRef();
    this.message = context.getMessage();
    // The handler reads the channel from this same context (`@Ctx() context.getChannelRef()`): it gets the
    // holding one. getArgs() is the context's own array, and a context lives for one message only.
    context.getArgs()[1] = this.holdingChannel();
  }

  /** A duplicate of a completed message: done already, so it leaves the queue. */
  ack(): void {
    this.settle('ack', []);
  }

  /** A message that can never succeed (no key, another payload): rejected, so a dead-letter exchange gets it. */
  reject(): void {
    this.settle('nack', [false, false]);
  }

  /** A message that may succeed later (its key in flight, the store down): back to the queue after `delayMs`. */
  requeueAfter(delayMs: number): void {
    this.settled = true;
    this.holding = false;
    // Requeued at once, it would come straight back while the first delivery still runs, in a busy loop. The
    // broker keeps it unacknowledged meanwhile and requeues it itself if this process or channel goes away.
    setTimeout(() => this.send('nack', [false, true]), delayMs).unref();
  }

  /**
   * The handler ran: sends what it held. `requeueInsteadOfAck`: its work was rolled back after it acked (the
   * transactional commit failed, or its lease was taken over), so the message goes back to the queue instead.
   */
  releaseHandlerSettlement(requeueInsteadOfAck: boolean): void {
    this.holding = false;
    const held = this.held;
    if (!held) return;
    this.settled = true;
    if (requeueInsteadOfAck && held.method === 'ack') this.send('nack', [false, true]);
    else this.send(held.method, held.args);
  }

  /**
   * How the handler turned its message away (`nack without requeue`, `reject with requeue`, ...), if it did:
   * the message is not done, whether it goes to a dead-letter exchange or back to the queue.
   */
  handlerRejection(): string | undefined {
    const held = this.held;
    if (!held || held.method === 'ack') return undefined;
    // amqplib: nack(message, allUpTo, requeue), reject(message, requeue); requeue defaults to true.
    const requeue = held.method === 'nack' ? held.args[1] : held.args[0];
    return `${held.method} ${requeue === false ? 'without' : 'with'} requeue`;
  }

  private settle(method: SettleMethod, args: unknown[]): void {
    this.holding = false;
    if (this.settled) return;
    this.settled = true;
    this.send(method, args);
  }

  private send(method: SettleMethod, args: unknown[]): void {
    try {
      this.channel[method](this.message, ...args);
    } catch (error) {
      // A closed channel: the broker requeues every message it had not seen settled, this one included.
      this.logger.warn(
        `${this.route}: could not ${method} the message (${describeError(error)}); ` +
          `the broker redelivers it if its channel closed`,
      );
    }
  }

  private holdingChannel(): unknown {
    return channelSettlingThrough(this.channel, (method) => (message, ...args) => {
      if (message !== this.message || !this.holding) return this.channel[method](message, ...args);
      if (this.held) {
        // A second settlement of one message would close the channel (PRECONDITION_FAILED), losing every
        // other unacknowledged message on it.
        this.logger.warn(`${this.route}: the handler settled its message twice; the second ${method} was dropped`);
        return;
      }
      this.held = { method, args };
    });
  }
}

type Settle = (message: unknown, ...args: unknown[]) => unknown;

/** `channel` as the handler sees it: its `ack`, `nack` and `reject` are `settle(method)`, the rest its own. */
function channelSettlingThrough(channel: any, settle: (method: SettleMethod) => Settle): unknown {
  const overrides: Record<SettleMethod, Settle> = {
    ack: settle('ack'),
    nack: settle('nack'),
    reject: settle('reject'),
  };
  return new Proxy(channel, {
    get: (target, property) => {
      if (property === 'ack' || property === 'nack' || property === 'reject') return overrides[property];
      const value = Reflect.get(target, property, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

/**
 * Under `noAck: true` the library never settles a message. A handler that acknowledges its own message shows
 * that its consumer uses manual acknowledgement after all, where every duplicate the library answers without
 * running the handler would stay unacknowledged: `onManualAck` is told, once, so the misconfiguration is named.
 */
export function watchForManualAck(context: RmqContext, onManualAck: () => void): void {
  const channel = context.getChannelRef();
  const message = context.getMessage();
  context.getArgs()[1] = channelSettlingThrough(channel, (method) => (settled, ...args) => {
    if (settled === message) onManualAck();
    return channel[method](settled, ...args);
  });
}
