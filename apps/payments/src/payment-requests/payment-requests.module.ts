import { Module } from '@nestjs/common';
import { PaymentsModule } from '../payments/payments.module';
import { PaymentRequestsConsumer } from './payment-requests.consumer';

/** `payment.requested` messages from RabbitMQ, when AMQP_URL is set (see main.ts). */
@Module({ imports: [PaymentsModule], controllers: [PaymentRequestsConsumer] })
export class PaymentRequestsModule {}
