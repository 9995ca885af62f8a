// The SQL text of the MySQL/MariaDB dialect; `MysqlDialect` runs it.

// UTC_TIMESTAMP, not UNIX_TIMESTAMP(NOW()): no session time zone (or DST hour) takes part.
const NOW = "(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', UTC_TIMESTAMP(6)) DIV 1000)";

// What the upsert reports through LAST_INSERT_ID(code), because its affected-rows count cannot tell an unchanged
// row from an insert when the client sets CLIENT_FOUND_ROWS (mysql2 does). 0: a fresh insert.
export const LOST = 1;
export const REPLACED_EXPIRED = 2;
export const TOOK_OVER = 3;

/** Every statement the dialect runs, built once per table. */
export interface Statements {
  acquire: string;
  /** Reads the row an acquire lost to, with its lease and TTL left. */
  readExisting: string;
  complete: string;
  release: string;
  /** The live row with its absolute times. */
  inspect: string;
  /** Deletes the live row if it is completed (`force`: whatever its state). */
  forget: string;
  /** Whether a live row is in flight (1) or completed (0); no row when there is none. */
  liveState: string;
  sweep: string;
}

/** Every statement of the dialect, on `table` (escaped and qualified). */
export function buildStatements(table: string): Statements {
  const byId = 'namespace = ? AND scope = ? AND `key` = ?';
  return {
    // One statement decides under the primary key's row lock. MySQL evaluates the assignments left to right, each
    // seeing the columns already assigned, so the decision is taken once, in the first assignment, against the old
    // row, and handed to the others through LAST_INSERT_ID(); the same value reaches the client as the OK packet's
    // insert id (see LOST, REPLACED_EXPIRED, TOOK_OVER).
    acquire: `
      INSERT INTO ${table} (namespace, scope, \`key\`, fingerprint, token, lease_until, expires_at, response)
      VALUES (?, ?, ?, ?, ?, ${NOW} + ?, ${NOW} + ?, NULL)
      ON DUPLICATE KEY UPDATE
        token = IF(LAST_INSERT_ID(CASE
                     WHEN expires_at <= ${NOW} THEN ${REPLACED_EXPIRED}
                     WHEN response IS NULL AND lease_until <= ${NOW} AND fingerprint = VALUES(fingerprint)
                       THEN ${TOOK_OVER}
                     ELSE ${LOST}
                   END) > ${LOST}, VALUES(token), token),
        fingerprint = IF(LAST_INSERT_ID() > ${LOST}, VALUES(fingerprint), fingerprint),
        response = IF(LAST_INSERT_ID() > ${LOST}, NULL, response),
        lease_until = IF(LAST_INSERT_ID() > ${LOST}, VALUES(lease_until), lease_until),
        expires_at = IF(LAST_INSERT_ID() > ${LOST}, VALUES(expires_at), expires_at)`,
    readExisting:
      `SELECT fingerprint, CAST(response AS BINARY) AS response, lease_until - ${NOW} AS lease_left, ` +
      `expires_at - ${NOW} AS ttl_left FROM ${table} WHERE ${byId}`,
    complete:
      `UPDATE ${table} SET response = ?, token = NULL, expires_at = ${NOW} + ? ` +
      `WHERE ${byId} AND token = ? AND response IS NULL AND expires_at > ${NOW}`,
    release: `DELETE FROM ${table} WHERE ${byId} AND token = ? AND response IS NULL AND expires_at > ${NOW}`,
    inspect:
      `SELECT fingerprint, CAST(response AS BINARY) AS response, lease_until, expires_at ` +
      `FROM ${table} WHERE ${byId} AND expires_at > ${NOW}`,
    forget: `DELETE FROM ${table} WHERE ${byId} AND expires_at > ${NOW} AND (response IS NOT NULL OR ? = 1)`,
    liveState: `SELECT response IS NULL AS in_flight FROM ${table} WHERE ${byId} AND expires_at > ${NOW}`,
    // Each row is locked and its WHERE re-evaluated on the latest version before it is deleted. ORDER BY makes
    // concurrent sweepers lock rows in one order, so they queue rather than deadlock; should one deadlock with an
    // acquire, run() runs it again.
    sweep: `DELETE FROM ${table} WHERE expires_at <= ${NOW} ORDER BY expires_at LIMIT ?`,
  };
}
