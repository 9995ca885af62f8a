import { Injectable, NotFoundException } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { DatabaseService } from '../database/database.service';
import { Customer } from './customer.entity';
import { CreateCustomerDto } from './create-customer.dto';

/** Customers belong to one merchant; another merchant's customer is indistinguishable from none (404). */
@Injectable()
export class CustomersService {
  constructor(private readonly db: DatabaseService) {}

  create(merchantId: string, dto: CreateCustomerDto): Promise<Customer> {
    const customer: Customer = {
      id: randomUUID(),
      merchantId,
      name: dto.name,
      balance: dto.balance,
      createdAt: Date.now(),
    };
    return this.db.transaction((manager) => manager.save(Customer, customer));
  }

  async get(merchantId: string, id: string): Promise<Customer> {
    const customer = await this.db.read((manager) => manager.findOneBy(Customer, { id, merchantId }));
    if (!customer) throw new NotFoundException(`Customer ${id} not found.`);
    return customer;
  }
}
