import { ApiProperty } from '@nestjs/swagger';
import { Customer } from './customer.entity';

/** A customer as the API shows it. */
export class CustomerView {
  @ApiProperty() id: string;
  @ApiProperty() name: string;
  @ApiProperty({ description: 'Minor units' }) balance: number;

  static of(customer: Customer): CustomerView {
    return { id: customer.id, name: customer.name, balance: customer.balance };
  }
}
