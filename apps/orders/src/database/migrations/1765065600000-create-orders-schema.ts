import { MigrationInterface, QueryRunner, Table, TableCheck, TableIndex } from 'typeorm';

/** The orders table, written with TypeORM's Table API so one migration serves SQLite and PostgreSQL. */
export class CreateOrdersSchema1765065600000 implements MigrationInterface {
  name = 'CreateOrdersSchema1765065600000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.createTable(
      new Table({
        name: 'orders',
        columns: [
          { name: 'id', type: 'varchar', length: '36', isPrimary: true },
          { name: 'caller_id', type: 'varchar', length: '64' },
          { name: 'request_key', type: 'varchar', length: '255' },
          { name: 'customer_id', type: 'varchar', length: '36' },
          { name: 'amount', type: 'bigint' },
          { name: 'currency', type: 'varchar', length: '3' },
          { name: 'status', type: 'varchar', length: '10' },
          { name: 'payment_id', type: 'varchar', length: '36', isNullable: true },
          { name: 'decline_reason', type: 'varchar', length: '200', isNullable: true },
          { name: 'created_at', type: 'bigint' },
          { name: 'updated_at', type: 'bigint' },
        ],
        indices: [
          new TableIndex({
            name: 'uq_orders_caller_request_key',
            columnNames: ['caller_id', 'request_key'],
            isUnique: true,
          }),
          new TableIndex({ name: 'idx_orders_status_updated', columnNames: ['status', 'updated_at'] }),
        ],
        checks: [new TableCheck({ name: 'chk_orders_amount_positive', expression: 'amount > 0' })],
      }),
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropTable('orders');
  }
}
