import { HttpException, HttpStatus } from '@nestjs/common';

/** 402: the customer's balance does not cover the payment; nothing was written. */
export class PaymentRequiredException extends HttpException {
  constructor(message: string) {
    super({ statusCode: HttpStatus.PAYMENT_REQUIRED, error: 'Payment Required', message }, HttpStatus.PAYMENT_REQUIRED);
  }
}
