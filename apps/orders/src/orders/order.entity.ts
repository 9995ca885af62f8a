import { Check, Column, Entity, Index, PrimaryColumn } from 'typeorm';

/** Where an order stands: `pending` until the payments service gave a definitive answer. */
export type OrderStatus = 'pending' | 'paid' | 'declined';

const bigint = {
  to: (value: number | null | undefined) => value,
  from: (value: string | number | null) => (value === null ? null : Number(value)),
};

/**
 * An order and its payment's fate. The idempotency key that placed it is unique per caller, so a retry of
 * `POST /orders` whose idempotency record was lost (or whose first run died) finds it instead of placing another.
 */
@Entity('orders')
@Index('uq_orders_caller_request_key', ['callerId', 'requestKey'], { unique: true })
@Index('idx_orders_status_updated', ['status', 'updatedAt'])
@Check('chk_orders_amount_positive', 'amount > 0')
export class Order {
  @PrimaryColumn({ type: 'varchar', length: 36 })
  id: string;

  @Column({ name: 'caller_id', type: 'varchar', length: 64 })
  callerId: string;

  @Column({ name: 'request_key', type: 'varchar', length: 255 })
  requestKey: string;

  @Column({ name: 'customer_id', type: 'varchar', length: 36 })
  customerId: string;

  @Column({ type: 'bigint', transformer: bigint })
  amount: number;

  @Column({ type: 'varchar', length: 3 })
  currency: string;

  @Column({ type: 'varchar', length: 10 })
  status: OrderStatus;

  @Column({ name: 'payment_id', type: 'varchar', length: 36, nullable: true })
  paymentId: string | null;

  @Column({ name: 'decline_reason', type: 'varchar', length: 200, nullable: true })
  declineReason: string | null;

  @Column({ name: 'created_at', type: 'bigint', transformer: bigint })
  createdAt: number;

  /** Last change, or last payment try while pending: the recovery loop takes the longest-waiting first. */
  @Column({ name: 'updated_at', type: 'bigint', transformer: bigint })
  updatedAt: number;
}
