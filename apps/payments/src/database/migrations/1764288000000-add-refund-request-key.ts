import { MigrationInterface, QueryRunner, TableColumn, TableIndex } from 'typeorm';

/**
 * Refunds remember the idempotency key that made them, unique per merchant. Payments have their `reference`
 * for this; without it, a refund whose process died after its commit and before its idempotency record
 * completed (a store outside the database) would be applied again by the retry. Nullable so the migration
 * applies to tables that already hold rows; the app always sets it.
 */
export class AddRefundRequestKey1764288000000 implements MigrationInterface {
  name = 'AddRefundRequestKey1764288000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.addColumn(
      'refunds',
      new TableColumn({ name: 'request_key', type: 'varchar', length: '255', isNullable: true }),
    );
    // A unique index rather than a constraint: TypeORM's MySQL driver only creates the former.
    await queryRunner.createIndex(
      'refunds',
      new TableIndex({
        name: 'uq_refunds_merchant_request_key',
        columnNames: ['merchant_id', 'request_key'],
        isUnique: true,
      }),
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropIndex('refunds', 'uq_refunds_merchant_request_key');
    await queryRunner.dropColumn('refunds', 'request_key');
  }
}
