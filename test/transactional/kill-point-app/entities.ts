import { Column, Entity, PrimaryColumn, PrimaryGeneratedColumn, Unique } from 'typeorm';

/** The one account the fixture debits. */
@Entity('kp_accounts')
export class Account {
  @PrimaryColumn({ type: 'integer' })
  id: number;

  @Column({ type: 'integer' })
  balance: number;
}

/** A debit; `reference` is UNIQUE, the safety net of the non-transactional mode. */
@Entity('kp_payments')
@Unique('uq_kp_payments_reference', ['reference'])
export class Payment {
  @PrimaryGeneratedColumn()
  id: number;

  @Column({ type: 'varchar', length: 64 })
  reference: string;

  @Column({ type: 'integer' })
  amount: number;
}
