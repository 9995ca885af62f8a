import { Controller } from '@nestjs/common';
import { setTimeout as sleep } from 'node:timers/promises';
import { Ctx, EventPattern, Payload, RmqContext } from '@nestjs/microservices';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager, QueryFailedError } from 'typeorm';
import { Idempotent } from '@nest-idempotency/core';
import { RedisIdempotencyStore } from '@nest-idempotency/core/redis';
import { IdempotencyTransaction } from '@nest-idempotency/core/typeorm';
import { Account, Payment } from '../../transactional/kill-point-app/entities';
import { PaymentMessage, REDIS_PAYMENTS, TRANSACTIONAL_PAYMENTS } from './payment-message';

// A route's own store, built when the controller is defined; the process ends with the test.
const redisStore = new RedisIdempotencyStore(process.env.KR_REDIS_URL ?? 'redis://127.0.0.1:6379');

/**
 * Debits the account and records the payment, acknowledging its message by hand as Nest's RabbitMQ docs show.
 * Every run, constraint refusal and death is printed, for the test to count: `run <ref> <pid>`,
 * `constraint <ref>`; on a message's first delivery the process dies (SIGKILL) after the writes and the ack.
 */
@Controller()
export class PaymentsConsumer {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly transaction: IdempotencyTransaction,
  ) {}

  @EventPattern(TRANSACTIONAL_PAYMENTS)
  @Idempotent({ transactional: true })
  async payInTransaction(@Payload() payment: PaymentMessage, @Ctx() context: RmqContext): Promise<void> {
    console.log(`run ${payment.reference} ${process.pid}`);
    const manager = this.transaction.managerFor(this.dataSource);
    if (!manager) throw new Error('no idempotency transaction');
    await this.debit(manager, payment);
    await this.settle(context);
  }

  @EventPattern(REDIS_PAYMENTS)
  @Idempotent({ store: redisStore })
  async payBesideRedis(@Payload() payment: PaymentMessage, @Ctx() context: RmqContext): Promise<void> {
    console.log(`run ${payment.reference} ${process.pid}`);
    try {
      await this.dataSource.transaction((manager) => this.debit(manager, payment));
    } catch (error) {
      // The store lives apart from the ledger: a run that committed and died before its record completed is
      // run again, and the UNIQUE reference refuses its second write. The payment exists: the message is done.
      if (!(error instanceof QueryFailedError)) throw error;
      console.log(`constraint ${payment.reference}`);
    }
    await this.settle(context);
  }

  private async debit(manager: EntityManager, payment: PaymentMessage): Promise<void> {
    await manager
      .createQueryBuilder()
      .update(Account)
      .set({ balance: () => 'balance - :amount' })
      .where('id = 1', { amount: payment.amount })
      .execute();
    await manager.insert(Payment, { reference: payment.reference, amount: payment.amount });
  }

  /**
   * Acks, then, on a message's first delivery, dies before returning: late enough that an ack sent at once
   * would have reached the broker (the library holds it until the record commits, so it never leaves).
   */
  private async settle(context: RmqContext): Promise<void> {
    context.getChannelRef().ack(context.getMessage());
    if (context.getMessage().fields.redelivered) return;
    await sleep(300);
    console.log(`dying ${process.pid}`);
    process.kill(process.pid, 'SIGKILL');
  }
}
