/*
 * The MariaDB floor on a bare `mysql2/promise` pool: the statements of
 * libs/idempotency/src/stores/typeorm/mysql.dialect.ts for a fresh key, written out by hand for the floors' table,
 * run with `execute` (prepared on the server once per connection, as the store's are).
 */
import { createPool, Pool, ResultSetHeader } from 'mysql2/promise';
import { FLOOR_TABLE, FloorRecord, FloorStatements } from './sql-floor';

const TABLE = `\`${FLOOR_TABLE}\``;
const NOW = "(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', UTC_TIMESTAMP(6)) DIV 1000)";
const BY_ID = 'namespace = ? AND scope = ? AND `key` = ?';

// The store's one-statement upsert: its outcome comes back as the insert id, 0 for a fresh insert (1: lost,
// 2: replaced an expired row, 3: took a lapsed lease over).
const UPSERT = `
      INSERT INTO ${TABLE} (namespace, scope, \`key\`, fingerprint, token, lease_until, expires_at, response)
      VALUES (?, ?, ?, ?, ?, ${NOW} + ?, ${NOW} + ?, NULL)
      ON DUPLICATE KEY UPDATE
        token = IF(LAST_INSERT_ID(CASE
                     WHEN expires_at <= ${NOW} THEN 2
                     WHEN response IS NULL AND lease_until <= ${NOW} AND fingerprint = VALUES(fingerprint)
                       THEN 3
                     ELSE 1
                   END) > 1, VALUES(token), token),
        fingerprint = IF(LAST_INSERT_ID() > 1, VALUES(fingerprint), fingerprint),
        response = IF(LAST_INSERT_ID() > 1, NULL, response),
        lease_until = IF(LAST_INSERT_ID() > 1, VALUES(lease_until), lease_until),
        expires_at = IF(LAST_INSERT_ID() > 1, VALUES(expires_at), expires_at)`;
const COMPLETE =
  `UPDATE ${TABLE} SET response = ?, token = NULL, expires_at = ${NOW} + ? ` +
  `WHERE ${BY_ID} AND token = ? AND response IS NULL AND expires_at > ${NOW}`;

/** The migration's table on MariaDB: byte-compared ids (VARBINARY), a LONGTEXT response, InnoDB. */
const CREATE_TABLE = `CREATE TABLE IF NOT EXISTS ${TABLE} (
  \`namespace\` varbinary(100) NOT NULL, \`scope\` varbinary(255) NOT NULL, \`key\` varbinary(255) NOT NULL,
  \`fingerprint\` varbinary(255) NOT NULL, \`token\` varbinary(255) NULL, \`lease_until\` bigint NOT NULL,
  \`expires_at\` bigint NOT NULL, \`response\` longtext CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL,
  INDEX \`IDX_${FLOOR_TABLE}_expires_at\` (\`expires_at\`),
  PRIMARY KEY (\`namespace\`, \`scope\`, \`key\`)) ENGINE=InnoDB`;

/** The store's fresh key: the upsert commits on its own (autocommit), then the completion does. */
export async function openMariadbFloor(url: string, poolSize: number): Promise<FloorStatements & { pool: Pool }> {
  // trace: false spares each promise call a stack capture (Error.captureStackTrace, for nicer error stacks), which
  // only mysql2's promise API takes and the store, on the callback API under TypeORM, never pays.
  const pool = createPool({ uri: url, connectionLimit: poolSize, trace: false });
  await pool.query(CREATE_TABLE);
  return {
    pool,
    async claim(r: FloorRecord) {
      const [result] = await pool.execute<ResultSetHeader>(UPSERT, [
        r.namespace,
        r.scope,
        r.key,
        r.fingerprint,
        r.token,
        r.leaseMs,
        r.ttlMs,
      ]);
      return Number(result.insertId) === 0;
    },
    async complete(r: FloorRecord, response: string) {
      const [result] = await pool.execute<ResultSetHeader>(COMPLETE, [
        response,
        r.ttlMs,
        r.namespace,
        r.scope,
        r.key,
        r.token,
      ]);
      return result.affectedRows > 0;
    },
    close: () => pool.end(),
  };
}
