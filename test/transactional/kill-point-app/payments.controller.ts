import { Body, ConflictException, Controller, Headers, HttpException, Post } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager, QueryFailedError } from 'typeorm';
import { Idempotent } from '@nest-idempotency/core';
import { IdempotencyTransaction } from '@nest-idempotency/core/typeorm';
import { Account, Payment } from './entities';
import { dieIf, KILL_HEADER } from './kill-points';

@Controller('payments')
export class KillPointPaymentsController {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly transaction: IdempotencyTransaction,
  ) {}

  @Post()
  @Idempotent()
  async pay(
    @Body() body: { reference: string; amount: number },
    @Headers(KILL_HEADER) killAt?: string,
  ): Promise<Payment> {
    dieIf(killAt, 'after-acquire');
    const ambient = this.transaction.managerFor(this.dataSource);
    const payment = ambient
      ? await this.debit(ambient, body, killAt)
      : await this.dataSource.transaction((manager) => this.debit(manager, body, killAt));
    // Without the transactional mode the debit is durable here and the record is not yet completed.
    if (!ambient) dieIf(killAt, 'after-commit');
    return payment;
  }

  private async debit(
    manager: EntityManager,
    body: { reference: string; amount: number },
    killAt?: string,
  ): Promise<Payment> {
    // As the payments app does: a payment already made with this reference and amount (the retry of a request
    // whose record never completed) is the answer; with another amount the reference is taken.
    const existing = await manager.findOneBy(Payment, { reference: body.reference });
    if (existing) {
      if (existing.amount !== body.amount) throw new ConflictException('reference already used');
      return existing;
    }
    const debited = await manager
      .createQueryBuilder()
      .update(Account)
      .set({ balance: () => 'balance - :amount' })
      .where('id = 1 AND balance >= :amount', { amount: body.amount })
      .execute();
    if (debited.affected !== 1) throw new HttpException('Insufficient balance', 402);
    let payment: Payment;
    try {
      payment = await manager.save(
        Payment,
        manager.create(Payment, { reference: body.reference, amount: body.amount }),
      );
    } catch (error) {
      if (error instanceof QueryFailedError) throw new ConflictException('reference already used');
      throw error;
    }
    dieIf(killAt, 'before-commit');
    return payment;
  }
}
