import { Check, Column, Entity, Index, PrimaryColumn } from 'typeorm';
import { bigintTransformer } from '../database/bigint.transformer';

/**
 * Money given back against a payment; the payment's `refunded_amount` keeps their sum within its amount, and
 * the idempotency key that made it is unique per merchant, so no retry can apply one refund twice.
 */
@Entity('refunds')
@Index('uq_refunds_merchant_request_key', ['merchantId', 'requestKey'], { unique: true })
@Check('chk_refunds_amount_positive', 'amount > 0')
@Index('idx_refunds_payment', ['paymentId'])
export class Refund {
  @PrimaryColumn({ type: 'varchar', length: 36 })
  id: string;

  @Column({ name: 'merchant_id', type: 'varchar', length: 64 })
  merchantId: string;

  @Column({ name: 'payment_id', type: 'varchar', length: 36 })
  paymentId: string;

  @Column({ type: 'bigint', transformer: bigintTransformer })
  amount: number;

  @Column({ name: 'request_key', type: 'varchar', length: 255, nullable: true })
  requestKey: string | null;

  @Column({ name: 'created_at', type: 'bigint', transformer: bigintTransformer })
  createdAt: number;
}
