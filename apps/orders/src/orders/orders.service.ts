import { ConflictException, Injectable, NotFoundException } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { randomUUID } from 'node:crypto';
import { LessThanOrEqual, QueryFailedError, Repository } from 'typeorm';
import { PaymentsClient } from '../payments-client/payments-client';
import { CreateOrderDto } from './create-order.dto';
import { Order } from './order.entity';

/**
 * Places orders and pays them. An order is written `pending` before its payment is asked for, and leaves
 * `pending` only on a definitive answer, by a conditional UPDATE: whoever settles it first (the request, a retry
 * of it, the recovery loop of any instance) decides, and all of them asked with the same derived key.
 */
@Injectable()
export class OrdersService {
  /** Settlements running in this process, by order id: a second one for the same order joins the first. */
  private readonly settling = new Map<string, Promise<Order>>();

  constructor(
    @InjectRepository(Order) private readonly orders: Repository<Order>,
    private readonly payments: PaymentsClient,
  ) {}

  /**
   * `requestKey` is the request's idempotency key. An order this caller already placed with it (the first run
   * died, or its idempotency record is gone) is resumed, not placed again, if it asked for the same payment.
   */
  async place(callerId: string, dto: CreateOrderDto, requestKey: string): Promise<Order> {
    const order = await this.placeOnce(callerId, dto, requestKey);
    return order.status === 'pending' ? this.settle(order) : order;
  }

  async get(callerId: string, id: string): Promise<Order> {
    const order = await this.orders.findOneBy({ id, callerId });
    if (!order) throw new NotFoundException(`Order ${id} not found.`);
    return order;
  }

  /** Pending orders untouched since `cutoff`, longest-waiting first. */
  pendingSince(cutoff: number, limit: number): Promise<Order[]> {
    return this.orders.find({
      where: { status: 'pending', updatedAt: LessThanOrEqual(cutoff) },
      order: { updatedAt: 'ASC' },
      take: limit,
    });
  }

  /**
   * Asks for the order's payment (its derived key: a payment already made is given back, never made twice) and
   * records a definitive answer. An unknown outcome leaves it pending, stamped, for the recovery loop.
   * A request and the recovery loop (or two retries) settling one order at once share one call.
   */
  settle(order: Order, signal?: AbortSignal): Promise<Order> {
    const running = this.settling.get(order.id);
    if (running) return running;
    const settlement = this.settleOnce(order, signal).finally(() => this.settling.delete(order.id));
    this.settling.set(order.id, settlement);
    return settlement;
  }

  private async settleOnce(order: Order, signal?: AbortSignal): Promise<Order> {
    const outcome = await this.payments.pay(order, signal);
    const now = Date.now();
    if (outcome.kind === 'unknown') {
      await this.orders.update({ id: order.id, status: 'pending' }, { updatedAt: now });
    } else {
      const change =
        outcome.kind === 'paid'
          ? { status: 'paid' as const, paymentId: outcome.paymentId }
          : { status: 'declined' as const, declineReason: outcome.reason };
      await this.orders.update({ id: order.id, status: 'pending' }, { ...change, updatedAt: now });
    }
    return this.orders.findOneByOrFail({ id: order.id });
  }

  private async placeOnce(callerId: string, dto: CreateOrderDto, requestKey: string): Promise<Order> {
    const existing = await this.orders.findOneBy({ callerId, requestKey });
    if (existing) return sameOrder(existing, dto);
    const now = Date.now();
    const order: Order = {
      id: randomUUID(),
      callerId,
      requestKey,
      customerId: dto.customerId,
      amount: dto.amount,
      currency: dto.currency,
      status: 'pending',
      paymentId: null,
      declineReason: null,
      createdAt: now,
      updatedAt: now,
    };
    try {
      await this.orders.insert(order);
      return order;
    } catch (error) {
      // Two runs with one key raced past the look-up: the unique index decided; resume the winner's order.
      const winner = isUniqueViolation(error) ? await this.orders.findOneBy({ callerId, requestKey }) : null;
      if (!winner) throw error;
      return sameOrder(winner, dto);
    }
  }
}

function sameOrder(existing: Order, dto: CreateOrderDto): Order {
  if (existing.customerId !== dto.customerId || existing.amount !== dto.amount || existing.currency !== dto.currency)
    throw new ConflictException('An order was already placed with this idempotency key, for another payment.');
  return existing;
}

function isUniqueViolation(error: unknown): boolean {
  const code = (error as QueryFailedError & { driverError?: { code?: string } }).driverError?.code;
  return error instanceof QueryFailedError && (code === '23505' || code?.startsWith('SQLITE_CONSTRAINT') === true);
}
