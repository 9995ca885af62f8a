import { MigrationInterface, QueryRunner, Table, TableCheck, TableIndex, TableUnique } from 'typeorm';

const id = { type: 'varchar', length: '36', isPrimary: true } as const;
const merchantId = { name: 'merchant_id', type: 'varchar', length: '64' } as const;
const money = (name: string) => ({ name, type: 'bigint' }) as const;
const createdAt = { name: 'created_at', type: 'bigint' } as const;

/**
 * Customers, payments and refunds, with the constraints that keep money right even when code is wrong:
 * one reference per merchant, no negative balance, no refund beyond its payment. Written with TypeORM's
 * Table API so one migration serves PostgreSQL, MySQL/MariaDB and SQLite.
 */
export class CreatePaymentsSchema1764201600000 implements MigrationInterface {
  name = 'CreatePaymentsSchema1764201600000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await this.createTable(
      queryRunner,
      new Table({
        name: 'customers',
        columns: [
          { name: 'id', ...id },
          merchantId,
          { name: 'name', type: 'varchar', length: '200' },
          money('balance'),
          createdAt,
        ],
        indices: [new TableIndex({ name: 'idx_customers_merchant', columnNames: ['merchant_id'] })],
      }),
      [new TableCheck({ name: 'chk_customers_balance_not_negative', expression: 'balance >= 0' })],
    );
    await this.createTable(
      queryRunner,
      new Table({
        name: 'payments',
        columns: [
          { name: 'id', ...id },
          merchantId,
          { name: 'customer_id', type: 'varchar', length: '36' },
          money('amount'),
          { name: 'currency', type: 'varchar', length: '3' },
          { name: 'reference', type: 'varchar', length: '64' },
          { name: 'status', type: 'varchar', length: '20' },
          { ...money('refunded_amount'), default: 0 },
          createdAt,
        ],
        uniques: [
          new TableUnique({ name: 'uq_payments_merchant_reference', columnNames: ['merchant_id', 'reference'] }),
        ],
        indices: [new TableIndex({ name: 'idx_payments_customer', columnNames: ['customer_id'] })],
      }),
      [
        new TableCheck({ name: 'chk_payments_amount_positive', expression: 'amount > 0' }),
        new TableCheck({
          name: 'chk_payments_refunded_within_amount',
          expression: 'refunded_amount >= 0 AND refunded_amount <= amount',
        }),
      ],
    );
    await this.createTable(
      queryRunner,
      new Table({
        name: 'refunds',
        columns: [
          { name: 'id', ...id },
          merchantId,
          { name: 'payment_id', type: 'varchar', length: '36' },
          money('amount'),
          createdAt,
        ],
        indices: [new TableIndex({ name: 'idx_refunds_payment', columnNames: ['payment_id'] })],
      }),
      [new TableCheck({ name: 'chk_refunds_amount_positive', expression: 'amount > 0' })],
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropTable('refunds');
    await queryRunner.dropTable('payments');
    await queryRunner.dropTable('customers');
  }

  private async createTable(queryRunner: QueryRunner, table: Table, checks: TableCheck[]): Promise<void> {
    const isMysql =
      queryRunner.connection.driver.options.type === 'mysql' ||
      queryRunner.connection.driver.options.type === 'mariadb';
    // TypeORM's MySQL driver refuses check constraints, but MariaDB 10.2+ and MySQL 8.0.16+ enforce them.
    if (!isMysql) table.checks = checks;
    await queryRunner.createTable(table);
    if (isMysql) {
      for (const check of checks) {
        await queryRunner.query(
          `ALTER TABLE \`${table.name}\` ADD CONSTRAINT \`${check.name}\` CHECK (${check.expression})`,
        );
      }
    }
  }
}
