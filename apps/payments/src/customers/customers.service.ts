import { ConflictException, Injectable, NotFoundException } from '@nestjs/common';
import { Propagation, Transactional, TransactionHost } from '@nestjs-cls/transactional';
import { TransactionalAdapterTypeOrm } from '@nestjs-cls/transactional-adapter-typeorm';
import { randomUUID } from 'node:crypto';
import { findLatest } from '../database/latest-row';
import { isUniqueViolation } from '../database/unique-violation';
import { Customer } from './customer.entity';
import { CreateCustomerDto } from './create-customer.dto';

/**
 * Customers belong to one merchant; another merchant's customer is indistinguishable from none (404). Reads run in
 * a transaction too: on SQLite, whose one connection every request shares, that is what makes them wait for another
 * request's open transaction instead of reading its uncommitted writes.
 */
@Injectable()
export class CustomersService {
  constructor(private readonly txHost: TransactionHost<TransactionalAdapterTypeOrm>) {}

  /**
   * `requestKey` is the request's idempotency key. A customer this merchant already created with it (a retry
   * whose idempotency record was lost) is given back as it was created, if the request asked for the same
   * name and balance; otherwise the key is taken (409).
   */
  async create(merchantId: string, dto: CreateCustomerDto, requestKey: string): Promise<Customer> {
    try {
      return await this.createOnce(merchantId, dto, requestKey);
    } catch (error) {
      // Two creations with one key raced past the check: the UNIQUE index decided; answer as the winner.
      if (!isUniqueViolation(error)) throw error;
      const winner = await this.createdWith(merchantId, requestKey);
      if (!winner) throw error;
      return sameCustomer(winner, dto);
    }
  }

  @Transactional()
  async get(merchantId: string, id: string): Promise<Customer> {
    const customer = await this.txHost.tx.getRepository(Customer).findOneBy({ id, merchantId });
    if (!customer) throw new NotFoundException(`Customer ${id} not found.`);
    return customer;
  }

  /**
   * Nested: inside the request's transaction it is a savepoint, so a unique violation takes its writes back and
   * leaves the request's transaction usable (PostgreSQL would otherwise refuse every later statement of it).
   */
  @Transactional(Propagation.Nested)
  private async createOnce(merchantId: string, dto: CreateCustomerDto, requestKey: string): Promise<Customer> {
    const customers = this.txHost.tx.getRepository(Customer);
    const existing = await customers.findOneBy({ merchantId, requestKey });
    if (existing) return sameCustomer(existing, dto);
    return customers.save({
      id: randomUUID(),
      merchantId,
      name: dto.name,
      balance: dto.balance,
      openingBalance: dto.balance,
      requestKey,
      createdAt: Date.now(),
    });
  }

  /** The customer this merchant created with `requestKey`, as committed by whichever request won. */
  @Transactional()
  private createdWith(merchantId: string, requestKey: string): Promise<Customer | null> {
    return findLatest(this.txHost.tx.getRepository(Customer), { merchantId, requestKey });
  }
}

/** `existing` as its creation answered, if `dto` asked for it; else the key is taken. */
function sameCustomer(existing: Customer, dto: CreateCustomerDto): Customer {
  if (existing.name !== dto.name || existing.openingBalance !== dto.balance) {
    throw new ConflictException(
      'A customer was already created with this idempotency key, with another name or balance.',
    );
  }
  return { ...existing, balance: existing.openingBalance };
}
