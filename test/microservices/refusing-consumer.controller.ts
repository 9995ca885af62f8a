import { Controller, ExecutionContext } from '@nestjs/common';
import { Ctx, EventPattern, MessagePattern, Payload, RmqContext } from '@nestjs/microservices';
import { Idempotent } from '@nest-idempotency/core';

/** What the tests publish: an order of an account; a poison message lacks the account its scope reads. */
export interface Order {
  ref: string;
  account?: string;
  /** Padding, to make a message as large as a test needs. */
  note?: string;
}

/** The account an order is scoped to; throws on a message without one, as a careless scope function would. */
function accountOf(context: ExecutionContext): string {
  return context.switchToRpc().getData<Order>().account!.toUpperCase();
}

/** The same, as an async function: its failure is a rejected promise. */
async function accountOfAsync(context: ExecutionContext): Promise<string> {
  return accountOf(context);
}

/** Small enough that a test message passes it without megabytes of traffic. */
export const MAX_MESSAGE_BYTES = 64 * 1024;

/**
 * A consumer acknowledging by hand whose option callbacks fail on malformed messages, and whose messages are
 * bounded in size: each handler counts its runs by reference and acks its message when done.
 */
@Controller()
export class RefusingConsumer {
  readonly runs = new Map<string, number>();

  @EventPattern('orders.scoped')
  @Idempotent({ scope: accountOf })
  scoped(@Payload() order: Order, @Ctx() context: RmqContext): void {
    this.done(order, context);
  }

  @EventPattern('orders.scoped-async')
  @Idempotent({ scope: accountOfAsync })
  scopedAsync(@Payload() order: Order, @Ctx() context: RmqContext): void {
    this.done(order, context);
  }

  @EventPattern('orders.bounded')
  @Idempotent({ maxMessageBytes: MAX_MESSAGE_BYTES })
  bounded(@Payload() order: Order, @Ctx() context: RmqContext): void {
    this.done(order, context);
  }

  @MessagePattern('orders.bounded-request')
  @Idempotent({ maxMessageBytes: MAX_MESSAGE_BYTES })
  boundedRequest(@Payload() order: Order, @Ctx() context: RmqContext): { ref: string } {
    this.done(order, context);
    return { ref: order.ref };
  }

  runsOf(ref: string): number {
    return this.runs.get(ref) ?? 0;
  }

  private done(order: Order, context: RmqContext): void {
    this.runs.set(order.ref, this.runsOf(order.ref) + 1);
    context.getChannelRef().ack(context.getMessage());
  }
}
