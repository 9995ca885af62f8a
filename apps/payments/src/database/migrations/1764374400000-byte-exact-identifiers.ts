import { MigrationInterface, QueryRunner } from 'typeorm';

const TABLES = ['customers', 'payments', 'refunds'];

/**
 * Collations that compare UTF-8 bytes and do not pad: MariaDB's, then MySQL 8's. `utf8mb4_bin` will not do:
 * it is PAD SPACE, so 'own-1 ' would still meet 'own-1'.
 */
const BYTE_EXACT_COLLATIONS = ['utf8mb4_nopad_bin', 'utf8mb4_0900_bin'];

/**
 * On MySQL/MariaDB the app's text columns took the server's default collation (`utf8mb4_general_ci` here):
 * case- and accent-insensitive and PAD SPACE, so merchant 'ACME' read merchant 'acme''s rows, and references
 * 'Own-1', 'öwn-1' and 'own-1 ' met 'own-1' in the UNIQUE index. Every column of these tables (and every
 * column added to them later, through the table default) now compares byte for byte, as PostgreSQL and SQLite
 * always did; there this migration does nothing. TypeORM does not compare column collations when it looks
 * for changes, so the entities stay portable and `migration:generate` stays quiet.
 */
export class ByteExactIdentifiers1764374400000 implements MigrationInterface {
  name = 'ByteExactIdentifiers1764374400000';

  async up(queryRunner: QueryRunner): Promise<void> {
    if (!isMysql(queryRunner)) return;
    const rows: Array<{ name: string }> = await queryRunner.query(
      `SELECT COLLATION_NAME AS name FROM information_schema.COLLATIONS WHERE COLLATION_NAME IN (${BYTE_EXACT_COLLATIONS.map(() => '?').join(', ')})`,
      BYTE_EXACT_COLLATIONS,
    );
    const collation = BYTE_EXACT_COLLATIONS.find((candidate) => rows.some((row) => row.name === candidate));
    if (!collation) {
      throw new Error(
        `ByteExactIdentifiers: the server has none of the collations ${BYTE_EXACT_COLLATIONS.join(', ')} (MariaDB 10.2+ or MySQL 8 needed)`,
      );
    }
    for (const table of TABLES)
      await queryRunner.query(`ALTER TABLE \`${table}\` CONVERT TO CHARACTER SET utf8mb4 COLLATE ${collation}`);
  }

  /** Back to the database's default collation; fails if rows now differ only in case, accents or trailing spaces. */
  async down(queryRunner: QueryRunner): Promise<void> {
    if (!isMysql(queryRunner)) return;
    const [{ collation }]: Array<{ collation: string }> = await queryRunner.query(
      'SELECT DEFAULT_COLLATION_NAME AS collation FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = DATABASE()',
    );
    for (const table of TABLES)
      await queryRunner.query(`ALTER TABLE \`${table}\` CONVERT TO CHARACTER SET utf8mb4 COLLATE ${collation}`);
  }
}

function isMysql(queryRunner: QueryRunner): boolean {
  const type = queryRunner.connection.driver.options.type;
  return type === 'mysql' || type === 'mariadb';
}
