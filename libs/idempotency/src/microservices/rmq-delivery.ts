import { Logger } from '@nestjs/common';
import { RmqContext } from '@nestjs/microservices';
import { describeError } from '../util/describe-error';
import { HandlerSettlementRoute, Settlement, swapHandlerChannel } from './rmq-handler-channel';
import {
  DeliveryState,
  HANDLER_RUNNING,
  handlerSettles,
  heldSettlement,
  releaseToHandler,
  settleByLibrary,
} from './rmq-settlement-state';

const REQUEUE: Settlement = { method: 'nack', args: [false, true] };

/**
 * One RabbitMQ delivery under manual acknowledgement (`noAck: false`), where Nest leaves acking to the handler.
 * The handler sees a channel whose `ack`/`nack`/`reject` of this message are held until the idempotency record
 * is settled (so an ack never reaches the broker before the record, or the transaction, commits), and the
 * library settles the message itself when it does not run the handler. Each message is settled at most once:
 * `DeliveryState` says by whom.
 */
export class RmqDelivery {
  private state: DeliveryState = HANDLER_RUNNING;
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
    if (this.settleByLibrary()) this.send({ method: 'ack', args: [] });
  }

  /** A message that can never succeed (no key, another payload): rejected, so a dead-letter exchange gets it. */
  reject(): void {
    if (this.settleByLibrary()) this.send({ method: 'nack', args: [false, false] });
  }

  /** A message that may succeed later (its key in flight, the store down): back to the queue after `delayMs`. */
  requeueAfter(delayMs: number): void {
    if (!this.settleByLibrary()) return;
    // Requeued at once, it would come straight back while the first delivery still runs, in a busy loop. The
    // broker keeps it unacknowledged meanwhile and requeues it itself if this process or channel goes away.
    setTimeout(() => this.send(REQUEUE), delayMs).unref();
  }

  /**
   * The handler ran: sends what it held. `requeueInsteadOfAck`: its work was rolled back after it acked (the
   * transactional commit failed, or its lease was taken over), so the message goes back to the queue instead.
   */
  releaseHandlerSettlement(requeueInsteadOfAck: boolean): void {
    const { state, send } = releaseToHandler(this.state);
    this.state = state;
    if (!send) return;
    this.send(requeueInsteadOfAck && send.method === 'ack' ? REQUEUE : send);
  }

  /**
   * How the handler turned its message away (`nack without requeue`, `reject with requeue`, ...), if it did:
   * the message is not done, whether it goes to a dead-letter exchange or back to the queue.
   */
  handlerRejection(): string | undefined {
    const held = heldSettlement(this.state);
    if (!held || held.method === 'ack') return undefined;
    // amqplib: nack(message, allUpTo, requeue), reject(message, requeue); requeue defaults to true.
    const requeue = held.method === 'nack' ? held.args[1] : held.args[0];
    return `${held.method} ${requeue === false ? 'without' : 'with'} requeue`;
  }

  /** Whether the library settles the message now, rather than the handler or a settlement already made. */
  private settleByLibrary(): boolean {
    const { state, send } = settleByLibrary(this.state);
    this.state = state;
    return send;
  }

  private onHandlerSettlement(settlement: Settlement): HandlerSettlementRoute {
    const { state, fate } = handlerSettles(this.state, settlement);
    this.state = state;
    if (fate === 'to_broker') return 'send';
    if (fate === 'dropped_as_second') {
      // A second settlement of one message would close the channel (PRECONDITION_FAILED), losing every
      // other unacknowledged message on it.
      this.logger.warn(
        `${this.route}: the handler settled its message twice; the second ${settlement.method} was dropped`,
      );
    }
    return 'keep';
  }

  private send({ method, args }: Settlement): void {
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
}
