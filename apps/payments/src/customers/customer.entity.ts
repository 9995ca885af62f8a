import { Check, Column, Entity, Index, PrimaryColumn } from 'typeorm';
import { bigintTransformer } from '../database/bigint.transformer';

/**
 * A merchant's customer and the balance payments are debited from (integer minor units). The idempotency key
 * that created it is unique per merchant, so no retry can create it twice.
 */
@Entity('customers')
@Check('chk_customers_balance_not_negative', 'balance >= 0')
@Index('idx_customers_merchant', ['merchantId'])
@Index('uq_customers_merchant_request_key', ['merchantId', 'requestKey'], { unique: true })
export class Customer {
  @PrimaryColumn({ type: 'varchar', length: 36 })
  id: string;

  @Column({ name: 'merchant_id', type: 'varchar', length: 64 })
  merchantId: string;

  @Column({ type: 'varchar', length: 200 })
  name: string;

  @Column({ type: 'bigint', transformer: bigintTransformer })
  balance: number;

  /** The balance it was created with: what a retry of its creation is answered with. Null for older rows. */
  @Column({ name: 'opening_balance', type: 'bigint', transformer: bigintTransformer, nullable: true })
  openingBalance: number | null;

  /** The idempotency key of the request that created it; null for rows older than the column. */
  @Column({ name: 'request_key', type: 'varchar', length: 255, nullable: true })
  requestKey: string | null;

  @Column({ name: 'created_at', type: 'bigint', transformer: bigintTransformer })
  createdAt: number;
}
