import { Body, Controller, Module, Post } from '@nestjs/common';
import { CurrentMerchant, Merchant } from '../../apps/payments/src/auth/merchant';
import { CreatePaymentDto } from '../../apps/payments/src/payments/create-payment.dto';
import { PaymentView } from '../../apps/payments/src/payments/payment.views';
import { PaymentsService } from '../../apps/payments/src/payments/payments.service';

/**
 * The payments app's `POST /payments`, word for word, minus `@Idempotent()`: the bench's unguarded baseline for
 * that route. Same guard (API key), same global ValidationPipe, same DTO, same service and transaction, same
 * database; only the idempotency interceptor is absent. (`required: false` with no key sent would still run the
 * interceptor, and so would flatter the guarded variant.)
 */
@Controller('payments')
export class UnguardedPaymentsController {
  constructor(private readonly payments: PaymentsService) {}

  @Post()
  async create(@CurrentMerchant() merchant: Merchant, @Body() dto: CreatePaymentDto): Promise<PaymentView> {
    return PaymentView.of(await this.payments.pay(merchant.id, dto));
  }
}

/** Stands in for `PaymentsModule` in the unguarded payments app. */
@Module({ controllers: [UnguardedPaymentsController], providers: [PaymentsService] })
export class UnguardedPaymentsModule {}
