import { Check, Column, Entity, Index, PrimaryColumn, Unique } from 'typeorm';
import { bigintTransformer } from '../database/bigint.transformer';

/** A debit of a customer's balance. `reference` is unique per merchant: the schema refuses a second use. */
@Entity('payments')
@Unique('uq_payments_merchant_reference', ['merchantId', 'reference'])
@Check('chk_payments_amount_positive', 'amount > 0')
@Check('chk_payments_refunded_within_amount', 'refunded_amount >= 0 AND refunded_amount <= amount')
@Index('idx_payments_customer', ['customerId'])
export class Payment {
  @PrimaryColumn({ type: 'varchar', length: 36 })
  id: string;

  @Column({ name: 'merchant_id', type: 'varchar', length: 64 })
  merchantId: string;

  @Column({ name: 'customer_id', type: 'varchar', length: 36 })
  customerId: string;

  @Column({ type: 'bigint', transformer: bigintTransformer })
  amount: number;

  @Column({ type: 'varchar', length: 3 })
  currency: string;

  @Column({ type: 'varchar', length: 64 })
  reference: string;

  @Column({ type: 'varchar', length: 20 })
  status: 'succeeded' | 'partially_refunded' | 'refunded';

  @Column({ name: 'refunded_amount', type: 'bigint', transformer: bigintTransformer, default: 0 })
  refundedAmount: number;

  @Column({ name: 'created_at', type: 'bigint', transformer: bigintTransformer })
  createdAt: number;
}
