import { MigrationInterface, QueryRunner, Table, TableColumnOptions } from 'typeorm';
import { IDEMPOTENCY_RECORD_MAX_BYTES, IDEMPOTENCY_RECORDS_TABLE } from './idempotency-record.entity';

/**
 * Creates the idempotency records table on PostgreSQL, MySQL/MariaDB and SQLite (better-sqlite3): add it to the
 * DataSource's `migrations`. For another table name, subclass it with your own `name` and call `super(tableName)`.
 */
export class CreateIdempotencyRecords1764259200000 implements MigrationInterface {
  name = 'CreateIdempotencyRecords1764259200000';

  // TypeORM instantiates listed migration classes without arguments, hence the default.
  constructor(private readonly tableName: string = IDEMPOTENCY_RECORDS_TABLE) {}

  async up(queryRunner: QueryRunner): Promise<void> {
    const type = queryRunner.connection.options.type;
    const mysql = type === 'mysql' || type === 'mariadb';
    // MySQL/MariaDB compare VARCHAR through a collation (case-insensitive and PAD SPACE by default, so 'abc' would
    // meet 'ABC' and 'merchant ' meet 'merchant'); VARBINARY compares bytes. PostgreSQL and SQLite compare
    // varchar/text bytewise already.
    const text = (name: string, bytes: number, isNullable = false): TableColumnOptions => ({
      name,
      type: mysql ? 'varbinary' : 'varchar',
      length: String(bytes),
      isNullable,
    });
    const epochMs = (name: string): TableColumnOptions => ({ name, type: 'bigint', isNullable: false });
    await queryRunner.createTable(
      new Table({
        name: this.tableName,
        columns: [
          { ...text('namespace', IDEMPOTENCY_RECORD_MAX_BYTES.namespace), isPrimary: true },
          { ...text('scope', IDEMPOTENCY_RECORD_MAX_BYTES.scope), isPrimary: true },
          { ...text('key', IDEMPOTENCY_RECORD_MAX_BYTES.key), isPrimary: true },
          text('fingerprint', IDEMPOTENCY_RECORD_MAX_BYTES.fingerprint),
          text('token', IDEMPOTENCY_RECORD_MAX_BYTES.token, true),
          epochMs('lease_until'),
          epochMs('expires_at'),
          // MySQL's TEXT stops at 64 KiB and its utf8mb3 at three-byte characters; responses need neither limit.
          mysql
            ? { name: 'response', type: 'longtext', charset: 'utf8mb4', collation: 'utf8mb4_bin', isNullable: true }
            : { name: 'response', type: 'text', isNullable: true },
        ],
        // The sweeper finds expired rows through it.
        indices: [{ name: `IDX_${this.tableName.replace(/\./g, '_')}_expires_at`, columnNames: ['expires_at'] }],
        // Acquire's correctness rests on row locks and a transactional primary key.
        ...(mysql ? { engine: 'InnoDB' } : {}),
      }),
      true,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropTable(this.tableName, true);
  }
}
