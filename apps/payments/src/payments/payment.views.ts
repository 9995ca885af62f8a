import { ApiProperty } from '@nestjs/swagger';
import { Payment } from './payment.entity';
import { Refund } from './refund.entity';

/** A payment as the API shows it. */
export class PaymentView {
  @ApiProperty() id: string;
  @ApiProperty() customerId: string;
  @ApiProperty({ description: 'Minor units' }) amount: number;
  @ApiProperty() currency: string;
  @ApiProperty() reference: string;
  @ApiProperty({ enum: ['succeeded', 'partially_refunded', 'refunded'] }) status: string;
  @ApiProperty({ description: 'Minor units refunded so far' }) refundedAmount: number;
  @ApiProperty({ format: 'date-time' }) createdAt: string;

  static of(payment: Payment): PaymentView {
    return {
      id: payment.id,
      customerId: payment.customerId,
      amount: payment.amount,
      currency: payment.currency,
      reference: payment.reference,
      status: payment.status,
      refundedAmount: payment.refundedAmount,
      createdAt: new Date(payment.createdAt).toISOString(),
    };
  }
}

/** A refund as the API shows it. */
export class RefundView {
  @ApiProperty() id: string;
  @ApiProperty() paymentId: string;
  @ApiProperty({ description: 'Minor units' }) amount: number;
  @ApiProperty({ format: 'date-time' }) createdAt: string;

  static of(refund: Refund): RefundView {
    return {
      id: refund.id,
      paymentId: refund.paymentId,
      amount: refund.amount,
      createdAt: new Date(refund.createdAt).toISOString(),
    };
  }
}
