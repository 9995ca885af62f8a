import { Module } from '@nestjs/common';
import { PaymentsClient } from './payments-client';

/** The shop's way to the payments service. */
@Module({ providers: [PaymentsClient], exports: [PaymentsClient] })
export class PaymentsClientModule {}
