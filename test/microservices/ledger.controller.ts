import { Controller, Inject, Optional } from '@nestjs/common';
import { Ctx, EventPattern, MessagePattern, Payload, RmqContext } from '@nestjs/microservices';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Idempotent } from '@nest-idempotency/core';

/** What the tests send: a credit to an account, tagged with a reference the test tracks its runs by. */
export interface Credit {
  ref: string;
  account: string;
  amount: number;
  /** Time the handler takes, so duplicates arrive while it runs. */
  delayMs?: number;
  /** How many first runs of this reference fail (and, on RabbitMQ with manual acks, requeue their message). */
  failTimes?: number;
}

/** Provide `true` when the app's RabbitMQ consumer acknowledges by hand (`noAck: false`). */
export const LEDGER_MANUAL_ACK = 'LEDGER_MANUAL_ACK';

/**
 * A ledger consumed over a message broker: credits as events and as request-reply, with the handler's state in
 * memory so a test can count its runs. On RabbitMQ with manual acknowledgement it acks its message when done,
 * and nacks it back to the queue when it fails, as a consumer written against Nest's documentation does.
 */
@Controller()
export class LedgerController {
  /** Runs of the handler per reference (failed ones included). */
  readonly runs = new Map<string, number>();
  readonly balances = new Map<string, number>();
  private readonly failures = new Map<string, number>();

  constructor(@Optional() @Inject(LEDGER_MANUAL_ACK) private readonly manualAck = false) {}

  @EventPattern('ledger.credit')
  @Idempotent()
  async credit(@Payload() credit: Credit, @Ctx() context: unknown): Promise<void> {
    await this.apply(credit, context);
  }

  @EventPattern('ledger.credit-waiting')
  @Idempotent({ onConflict: { wait: 5_000 } })
  async creditWaiting(@Payload() credit: Credit, @Ctx() context: unknown): Promise<void> {
    await this.apply(credit, context);
  }

  @MessagePattern('ledger.transfer')
  @Idempotent()
  async transfer(@Payload() credit: Credit, @Ctx() context: unknown) {
    const balance = await this.apply(credit, context);
    return { transferId: randomUUID(), account: credit.account, balance };
  }

  @MessagePattern('ledger.transfer-waiting')
  @Idempotent({ onConflict: { wait: 5_000 } })
  async transferWaiting(@Payload() credit: Credit, @Ctx() context: unknown) {
    const balance = await this.apply(credit, context);
    return { transferId: randomUUID(), account: credit.account, balance };
  }

  /** Keyed by the payload's own reference, whatever the transport carries. */
  @EventPattern('ledger.credit-by-ref')
  @Idempotent({ key: (context) => context.switchToRpc().getData<Credit>().ref })
  async creditByRef(@Payload() credit: Credit, @Ctx() context: unknown): Promise<void> {
    await this.apply(credit, context);
  }

  /** One key space per account: the same key for two accounts is two messages. */
  @EventPattern('ledger.credit-per-account')
  @Idempotent({ scope: (context) => context.switchToRpc().getData<Credit>().account })
  async creditPerAccount(@Payload() credit: Credit, @Ctx() context: unknown): Promise<void> {
    await this.apply(credit, context);
  }

  runsOf(ref: string): number {
    return this.runs.get(ref) ?? 0;
  }

  private async apply(credit: Credit, context: unknown): Promise<number> {
    this.runs.set(credit.ref, this.runsOf(credit.ref) + 1);
    const manualAck = context instanceof RmqContext && this.manualAck;
    if (credit.delayMs) await sleep(credit.delayMs);
    const failed = this.failures.get(credit.ref) ?? 0;
    if (failed < (credit.failTimes ?? 0)) {
      this.failures.set(credit.ref, failed + 1);
      if (manualAck) context.getChannelRef().nack(context.getMessage(), false, true);
      throw new Error(`credit ${credit.ref} declined (failure ${failed + 1})`);
    }
    const balance = (this.balances.get(credit.account) ?? 0) + credit.amount;
    this.balances.set(credit.account, balance);
    if (manualAck) context.getChannelRef().ack(context.getMessage());
    return balance;
  }
}
