import { Body, Controller, Get, Param, ParseUUIDPipe, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { IdempotencyKey, Idempotent } from '@nest-idempotency/core';
import { CurrentMerchant, Merchant } from '../auth/merchant';
import { ApiErrors } from '../common/api-errors';
import { CreatePaymentDto } from './create-payment.dto';
import { CreateRefundDto } from './create-refund.dto';
import { PaymentView, RefundView } from './payment.views';
import { PaymentsService } from './payments.service';

@ApiTags('payments')
@ApiBearerAuth('api-key')
@Controller('payments')
export class PaymentsController {
  constructor(private readonly payments: PaymentsService) {}

  @Post()
  @Idempotent()
  @ApiErrors([400, 'Invalid body'], [401, 'Missing or unknown API key'])
  @ApiCreatedResponse({ type: PaymentView })
  @ApiErrors(
    [402, "The customer's balance is too low (stored and replayed like any answer)"],
    [404, 'No such customer for this merchant'],
    [409, 'The reference was already used by a payment for another customer, amount or currency'],
  )
  async create(@CurrentMerchant() merchant: Merchant, @Body() dto: CreatePaymentDto): Promise<PaymentView> {
    return PaymentView.of(await this.payments.pay(merchant.id, dto));
  }

  @Get(':id')
  @ApiOkResponse({ type: PaymentView })
  @ApiErrors(
    [400, 'The id is not a UUID'],
    [401, 'Missing or unknown API key'],
    [404, 'No such payment for this merchant'],
  )
  async get(@CurrentMerchant() merchant: Merchant, @Param('id', new ParseUUIDPipe()) id: string): Promise<PaymentView> {
    return PaymentView.of(await this.payments.get(merchant.id, id));
  }

  @Post(':id/refunds')
  @Idempotent()
  @ApiErrors([400, 'Invalid body'], [401, 'Missing or unknown API key'])
  @ApiCreatedResponse({ type: RefundView })
  @ApiErrors(
    [404, 'No such payment for this merchant'],
    [400, 'The refund would exceed what is left of the payment'],
    [409, 'A refund was already made with this idempotency key for another payment or amount'],
  )
  async refund(
    @CurrentMerchant() merchant: Merchant,
    @Param('id', new ParseUUIDPipe()) id: string,
    @Body() dto: CreateRefundDto,
    @IdempotencyKey() key: string,
  ): Promise<RefundView> {
    return RefundView.of(await this.payments.refund(merchant.id, id, dto, key));
  }
}
