import { ConflictException, Injectable, NotFoundException } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { DatabaseService } from '../database/database.service';
import { isUniqueViolation } from '../database/unique-violation';
import { Customer } from './customer.entity';
import { CreateCustomerDto } from './create-customer.dto';

/** Customers belong to one merchant; another merchant's customer is indistinguishable from none (404). */
@Injectable()
export class CustomersService {
  constructor(private readonly db: DatabaseService) {}

  /**
   * `requestKey` is the request's idempotency key. A customer this merchant already created with it (a retry
   * whose idempotency record was lost) is given back as it was created, if the request asked for the same
   * name and balance; otherwise the key is taken (409).
   */
  async create(merchantId: string, dto: CreateCustomerDto, requestKey: string): Promise<Customer> {
    const customer: Customer = {
      id: randomUUID(),
      merchantId,
      name: dto.name,
      balance: dto.balance,
      openingBalance: dto.balance,
      requestKey,
      createdAt: Date.now(),
    };
    try {
      return await this.db.transaction(async (manager) => {
        const existing = await manager.findOneBy(Customer, { merchantId, requestKey });
        return existing ? sameCustomer(existing, dto) : manager.save(Customer, customer);
      });
    } catch (error) {
      // Two creations with one key raced past the check: the UNIQUE index decided; answer as the winner.
      if (!isUniqueViolation(error)) throw error;
      const winner = await this.db.winner(Customer, { merchantId, requestKey });
      if (!winner) throw error;
      return sameCustomer(winner, dto);
    }
  }

  async get(merchantId: string, id: string): Promise<Customer> {
    const customer = await this.db.read((manager) => manager.findOneBy(Customer, { id, merchantId }));
    if (!customer) throw new NotFoundException(`Customer ${id} not found.`);
    return customer;
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
