import { Body, Controller, Get, Param, ParseUUIDPipe, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { IdempotencyKey, Idempotent } from '@nest-idempotency/core';
import { CurrentMerchant, Merchant } from '../auth/merchant';
import { ApiErrors } from '../common/api-errors';
import { CreateCustomerDto } from './create-customer.dto';
import { CustomerView } from './customer.view';
import { CustomersService } from './customers.service';

@ApiTags('customers')
@ApiBearerAuth('api-key')
@Controller('customers')
export class CustomersController {
  constructor(private readonly customers: CustomersService) {}

  @Post()
  @Idempotent()
  @ApiErrors([400, 'Invalid body'], [401, 'Missing or unknown API key'])
  @ApiCreatedResponse({ type: CustomerView })
  @ApiErrors([409, 'A customer was already created with this idempotency key, with another name or balance'])
  async create(
    @CurrentMerchant() merchant: Merchant,
    @Body() dto: CreateCustomerDto,
    @IdempotencyKey() key: string,
  ): Promise<CustomerView> {
    return CustomerView.of(await this.customers.create(merchant.id, dto, key));
  }

  @Get(':id')
  @ApiOkResponse({ type: CustomerView })
  @ApiErrors(
    [400, 'The id is not a UUID'],
    [401, 'Missing or unknown API key'],
    [404, 'No such customer for this merchant'],
  )
  async get(
    @CurrentMerchant() merchant: Merchant,
    @Param('id', new ParseUUIDPipe()) id: string,
  ): Promise<CustomerView> {
    return CustomerView.of(await this.customers.get(merchant.id, id));
  }
}
