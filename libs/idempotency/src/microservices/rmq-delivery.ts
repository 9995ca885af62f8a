import { Logger } from '@nestjs/common';
import { RmqContext } from '@nestjs/microservices';
import { describeError } from '../core/describe-error';
import { HandlerSettlementRoute, Settlement, SettleMethod, swapHandlerChannel } from './rmq-handler-channel';

/**
 * One RabbitMQ delivery under manual acknowledgement (`noAck: false`), where Nest leaves acking to the handler.
 * The handler sees a channel whose `ack`/`nack`/`reject` of this message are held until the idempotency record
 * is settled (so an ack never reaches the broker before the record, or the transaction, commits), and the
 * library settles the message itself when it does not run the handler. Each message is settled at most once.
 */
export class RmqDelivery {
  private held: Settlement | undefined;
  private holding = true;
  private settled = false;
  private readonly channel: any;
  private readonly message: Record<string, any>;

  constructor(
    context: RmqContext,
    private readonly route: string,
    private readonly logger: Logger,
  ) {
    this.message = context.getMessage();
    this.channel = swapHandlerChannel(context, (settlement) => this.onHandlerSettlement(settlement));
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

  private onHandlerSettlement({ method, args }: Settlement): HandlerSettlementRoute {
    if (!this.holding) return 'send';
    if (this.held) {
      // A second settlement of one message would close the channel (PRECONDITION_FAILED), losing every
      // other unacknowledged message on it.
      this.logger.warn(`${this.route}: the handler settled its message twice; the second ${method} was dropped`);
      return 'keep';
    }
    this.held = { method, args };
    return 'keep';
  }
}
