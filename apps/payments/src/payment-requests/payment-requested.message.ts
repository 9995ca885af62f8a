import { IsString, Length } from 'class-validator';
import { CreatePaymentDto } from '../payments/create-payment.dto';

/** `data` of a `payment.requested` message: the body of `POST /payments`, and whose payment it is. */
export class PaymentRequestedMessage extends CreatePaymentDto {
  @IsString()
  @Length(1, 64)
  merchantId: string;
}

/** What a settled payment request left behind; stored, so a redelivered copy is acknowledged without running. */
export type PaymentRequestOutcome =
  { outcome: 'paid'; paymentId: string } | { outcome: 'refused'; status: number; reason: string };
