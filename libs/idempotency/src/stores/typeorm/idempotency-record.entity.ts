import { Column, Entity, Index, PrimaryColumn, ValueTransformer } from 'typeorm';

/** The table the migration creates and `TypeOrmIdempotencyStore` uses unless its `tableName` option says otherwise. */
export const IDEMPOTENCY_RECORDS_TABLE = 'idempotency_records';

/**
 * Longest value each column takes, in UTF-8 bytes. The primary key (610 bytes) stays far below MySQL's 3072-byte
 * index limit; `TypeOrmIdempotencyStore` refuses longer values rather than let a database truncate them.
 */
export const IDEMPOTENCY_RECORD_MAX_BYTES = {
  namespace: 100,
  scope: 255,
  key: 255,
  fingerprint: 255,
  token: 255,
} as const;

// MySQL/MariaDB hand VARBINARY columns back as Buffers; they were written from UTF-8 strings.
const utf8: ValueTransformer = {
  to: (value: unknown) => value,
  from: (value: unknown) => (Buffer.isBuffer(value) ? value.toString('utf8') : value),
};

// pg and mysql2 (under TypeORM) return BIGINT as strings; epoch milliseconds fit a JS number exactly.
const epochMs: ValueTransformer = {
  to: (value: unknown) => value,
  from: (value: unknown) => (value == null ? value : Number(value)),
};

/**
 * One idempotency record, mapped so an app can inspect records through a repository. The table comes from
 * `CreateIdempotencyRecords1764259200000`, never from synchronize: on MySQL/MariaDB it makes the id columns
 * VARBINARY (byte-exact, no case folding or space padding) and the response LONGTEXT, which these portable
 * decorators cannot say, so the entity opts out of synchronize and of `migration:generate`.
 */
@Entity({ name: IDEMPOTENCY_RECORDS_TABLE, synchronize: false })
@Index(`IDX_${IDEMPOTENCY_RECORDS_TABLE}_expires_at`, ['expiresAt'])
export class IdempotencyRecordEntity {
  /** The module's `keyPrefix`, so several apps can share the table. */
  @PrimaryColumn({ type: 'varchar', length: IDEMPOTENCY_RECORD_MAX_BYTES.namespace, transformer: utf8 })
  namespace: string;

  /** Whose key it is ('' when nobody is authenticated). */
  @PrimaryColumn({ type: 'varchar', length: IDEMPOTENCY_RECORD_MAX_BYTES.scope, transformer: utf8 })
  scope: string;

  /** The client's `Idempotency-Key`. */
  @PrimaryColumn({ name: 'key', type: 'varchar', length: IDEMPOTENCY_RECORD_MAX_BYTES.key, transformer: utf8 })
  key: string;

  /** Hash of the request that created the record; a retry must match it. */
  @Column({ type: 'varchar', length: IDEMPOTENCY_RECORD_MAX_BYTES.fingerprint, transformer: utf8 })
  fingerprint: string;

  /** Fencing token of the attempt holding the lease; null once completed. */
  @Column({ type: 'varchar', length: IDEMPOTENCY_RECORD_MAX_BYTES.token, nullable: true, transformer: utf8 })
  token: string | null;

  /** Epoch ms (database clock) after which another attempt with the same fingerprint may take over. */
  @Column({ name: 'lease_until', type: 'bigint', transformer: epochMs })
  leaseUntil: number;

  /** Epoch ms (database clock) from which the record counts as absent and the sweeper may delete it. */
  @Column({ name: 'expires_at', type: 'bigint', transformer: epochMs })
  expiresAt: number;

  /** The stored response, exactly as given to `complete`; null while in flight. */
  @Column({ type: 'text', nullable: true })
  response: string | null;
}
