import { BadRequestException, ConflictException, Injectable, NotFoundException } from '@nestjs/common';
import { Propagation, Transactional, TransactionHost } from '@nestjs-cls/transactional';
import { TransactionalAdapterTypeOrm } from '@nestjs-cls/transactional-adapter-typeorm';
import { randomUUID } from 'node:crypto';
import { Customer } from '../customers/customer.entity';
import { findLatest } from '../database/latest-row';
import { isUniqueViolation } from '../database/unique-violation';
import { CreatePaymentDto } from './create-payment.dto';
import { CreateRefundDto } from './create-refund.dto';
import { PaymentRequiredException } from './payment-required.exception';
import { Payment } from './payment.entity';
import { Refund } from './refund.entity';

/**
 * Moves money. Each balance change and its payment or refund row commit in one transaction, and every
 * balance change is one conditional UPDATE, so concurrent requests can neither lose an update nor drive a
 * balance below zero, whatever the isolation level. Reads run in a transaction too (see CustomersService).
 */
@Injectable()
export class PaymentsService {
  constructor(private readonly txHost: TransactionHost<TransactionalAdapterTypeOrm>) {}

  /**
   * A payment whose reference this merchant already used is given back as it was created, if it was made for
   * the same customer, amount and currency (a retry whose idempotency record was lost, or one sent with a new
   * key): not charged again. Otherwise the reference is taken (409).
   *
   * The reference is claimed before the debit, by an insert that never fails on a taken reference: no statement
   * error is ever recovered from inside the transaction, so inside a transactional idempotent request the
   * payment joins the request's transaction as it is, without a savepoint of its own (two round trips fewer).
   */
  @Transactional()
  async pay(merchantId: string, dto: CreatePaymentDto): Promise<Payment> {
    const payments = this.txHost.tx.getRepository(Payment);
    await this.ownCustomer(merchantId, dto.customerId);
    const id = randomUUID();
    // A reference already taken (or taken by a concurrent payment, once that commits) keeps its row: the
    // conflict "updates" merchant_id to the value it has, which every dialect can say and none writes.
    await payments
      .createQueryBuilder()
      .insert()
      .values({
        id,
        merchantId,
        customerId: dto.customerId,
        amount: dto.amount,
        currency: dto.currency,
        reference: dto.reference,
        status: 'succeeded',
        refundedAmount: 0,
        createdAt: Date.now(),
      })
      .orUpdate(['merchant_id'], ['merchant_id', 'reference'], { skipUpdateIfNoValuesChanged: true })
      .execute();
    const holder = await findLatest(payments, { merchantId, reference: dto.reference });
    if (!holder) throw new Error(`payment ${id} was neither inserted nor found by its reference`);
    if (holder.id !== id) return samePayment(holder, dto);
    const debit = await this.txHost.tx
      .getRepository(Customer)
      .createQueryBuilder()
      .update()
      .set({ balance: () => 'balance - :amount' })
      .where('id = :id AND merchant_id = :merchantId AND balance >= :amount', {
        id: dto.customerId,
        merchantId,
        amount: dto.amount,
      })
      .execute();
    // Thrown, it rolls the payment row back with the transaction.
    if (debit.affected !== 1)
      throw new PaymentRequiredException(`The customer's balance does not cover ${dto.amount}.`);
    return holder;
  }

  @Transactional()
  async get(merchantId: string, id: string): Promise<Payment> {
    const payment = await this.txHost.tx.getRepository(Payment).findOneBy({ id, merchantId });
    if (!payment) throw new NotFoundException(`Payment ${id} not found.`);
    return payment;
  }

  /**
   * `requestKey` is the request's idempotency key. A refund this merchant already made with it (a retry whose
   * idempotency record was lost) is given back if it was for the same payment and amount, and not applied
   * again; otherwise the key is taken (409).
   */
  async refund(merchantId: string, paymentId: string, dto: CreateRefundDto, requestKey: string): Promise<Refund> {
    try {
      return await this.applyRefund(merchantId, paymentId, dto, requestKey);
    } catch (error) {
      // Two refunds with one key raced past the check: the unique index decided; answer as the winner.
      if (!isUniqueViolation(error)) throw error;
      const winner = await this.refundedWith(merchantId, requestKey);
      if (!winner) throw error;
      return sameRefund(winner, paymentId, dto);
    }
  }

  /**
   * Nested: inside the request's transaction it is a savepoint, so a unique violation takes its writes back and
   * leaves the request's transaction usable (PostgreSQL would otherwise refuse every later statement of it).
   */
  @Transactional(Propagation.Nested)
  private async applyRefund(
    merchantId: string,
    paymentId: string,
    dto: CreateRefundDto,
    requestKey: string,
  ): Promise<Refund> {
    const payments = this.txHost.tx.getRepository(Payment);
    const refunds = this.txHost.tx.getRepository(Refund);
    const payment = await payments.findOneBy({ id: paymentId, merchantId });
    if (!payment) throw new NotFoundException(`Payment ${paymentId} not found.`);
    const existing = await refunds.findOneBy({ merchantId, requestKey });
    if (existing) return sameRefund(existing, paymentId, dto);
    // `status` is assigned before `refunded_amount`: MySQL evaluates SET clauses left to right with
    // updated values, PostgreSQL and SQLite with old ones; this order gives the same answer on all three.
    const credit = await payments
      .createQueryBuilder()
      .update()
      .set({
        status: () => "CASE WHEN refunded_amount + :amount = amount THEN 'refunded' ELSE 'partially_refunded' END",
        refundedAmount: () => 'refunded_amount + :amount',
      })
      .where('id = :id AND merchant_id = :merchantId AND refunded_amount + :amount <= amount', {
        id: paymentId,
        merchantId,
        amount: dto.amount,
      })
      .execute();
    if (credit.affected !== 1) {
      throw new BadRequestException(`A refund of ${dto.amount} would exceed what is left of payment ${paymentId}.`);
    }
    await this.txHost.tx
      .getRepository(Customer)
      .createQueryBuilder()
      .update()
      .set({ balance: () => 'balance + :amount' })
      .where('id = :id AND merchant_id = :merchantId', { id: payment.customerId, merchantId, amount: dto.amount })
      .execute();
    return refunds.save({
      id: randomUUID(),
      merchantId,
      paymentId,
      amount: dto.amount,
      requestKey,
      createdAt: Date.now(),
    });
  }

  /** The refund this merchant made with `requestKey`, as committed by whichever request won. */
  @Transactional()
  private refundedWith(merchantId: string, requestKey: string): Promise<Refund | null> {
    return findLatest(this.txHost.tx.getRepository(Refund), { merchantId, requestKey });
  }

  private async ownCustomer(merchantId: string, customerId: string): Promise<void> {
    if (!(await this.txHost.tx.getRepository(Customer).existsBy({ id: customerId, merchantId }))) {
      throw new NotFoundException(`Customer ${customerId} not found.`);
    }
  }
}

/** `existing` as its creation answered (a payment starts succeeded, nothing refunded), if `dto` asked for it. */
function samePayment(existing: Payment, dto: CreatePaymentDto): Payment {
  if (existing.customerId !== dto.customerId || existing.amount !== dto.amount || existing.currency !== dto.currency) {
    throw new ConflictException(`A payment with reference "${dto.reference}" already exists.`);
  }
  return { ...existing, status: 'succeeded', refundedAmount: 0 };
}

/** `existing`, if it refunded `amount` of payment `paymentId`; else the key is taken. */
function sameRefund(existing: Refund, paymentId: string, dto: CreateRefundDto): Refund {
  if (existing.paymentId !== paymentId || existing.amount !== dto.amount) {
    throw new ConflictException('A refund was already made with this idempotency key, for another payment or amount.');
  }
  return existing;
}
