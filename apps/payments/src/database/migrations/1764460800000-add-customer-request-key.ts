import { MigrationInterface, QueryRunner, TableColumn, TableIndex } from 'typeorm';

/**
 * Customers remember the idempotency key that made them, unique per merchant, as refunds do: once a record is
 * lost (a Redis restarted empty, an expired TTL) a retried `POST /customers` finds its customer instead of
 * creating a second one. `opening_balance` keeps the balance the customer was created with, so that retry is
 * answered as the original request was. Both nullable: customers made before this migration have neither.
 */
export class AddCustomerRequestKey1764460800000 implements MigrationInterface {
  name = 'AddCustomerRequestKey1764460800000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.addColumns('customers', [
      new TableColumn({ name: 'request_key', type: 'varchar', length: '255', isNullable: true }),
      new TableColumn({ name: 'opening_balance', type: 'bigint', isNullable: true }),
    ]);
    // A unique index rather than a constraint: TypeORM's MySQL driver only creates the former.
    await queryRunner.createIndex(
      'customers',
      new TableIndex({
        name: 'uq_customers_merchant_request_key',
        columnNames: ['merchant_id', 'request_key'],
        isUnique: true,
      }),
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropIndex('customers', 'uq_customers_merchant_request_key');
    await queryRunner.dropColumn('customers', 'opening_balance');
    await queryRunner.dropColumn('customers', 'request_key');
  }
}
