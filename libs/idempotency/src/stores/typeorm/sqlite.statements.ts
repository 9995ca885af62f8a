// The SQL text of the SQLite dialect; `SqliteDialect` prepares and runs it.

// julianday() rather than unixepoch('subsec'), which needs SQLite 3.42. SQLite's clock is the host's, but SQLite
// has only one host.
const NOW = "CAST(ROUND((julianday('now') - 2440587.5) * 86400000) AS INTEGER)";

/** Every statement the dialect prepares, built once per table. */
export interface Statements {
  /** Inserts a record for a key that has none, and does nothing otherwise: most keys are fresh. */
  insertFresh: string;
  /** The row acquire decides on, with the database's "now". */
  read: string;
  /** Runs right after `read`, in its transaction, with its "now" (the last two parameters) so both agree on the time. */
  upsert: string;
  complete: string;
  release: string;
  /** The live row with its absolute times. */
  inspect: string;
  /** Deletes the live row if it is completed (the last parameter 1: whatever its state). */
  forget: string;
  /** Whether a live row is in flight (1) or completed (0); no row when there is none. */
  liveState: string;
  sweep: string;
}

/** Every statement of the dialect, on `table` (escaped and qualified). */
export function buildStatements(table: string): Statements {
  const byId = 'namespace = ? AND scope = ? AND "key" = ?';
  return {
    insertFresh: `
      INSERT INTO ${table} (namespace, scope, "key", fingerprint, token, lease_until, expires_at, response)
      VALUES (?, ?, ?, ?, ?, ${NOW} + ?, ${NOW} + ?, NULL)
      ON CONFLICT (namespace, scope, "key") DO NOTHING`,
    read: `
      SELECT clock.now, r.fingerprint, r.response, r.lease_until, r.expires_at
      FROM (SELECT ${NOW} AS now) AS clock
      LEFT JOIN ${table} AS r ON r.namespace = ? AND r.scope = ? AND r."key" = ?`,
    upsert: `
      INSERT INTO ${table} AS r (namespace, scope, "key", fingerprint, token, lease_until, expires_at, response)
      VALUES (?, ?, ?, ?, ?, ?, ?, NULL)
      ON CONFLICT (namespace, scope, "key") DO UPDATE
      SET fingerprint = excluded.fingerprint, token = excluded.token, lease_until = excluded.lease_until,
          expires_at = excluded.expires_at, response = NULL
      WHERE r.expires_at <= ?
         OR (r.response IS NULL AND r.lease_until <= ? AND r.fingerprint = excluded.fingerprint)`,
    complete:
      `UPDATE ${table} SET response = ?, token = NULL, expires_at = ${NOW} + ? ` +
      `WHERE ${byId} AND token = ? AND response IS NULL AND expires_at > ${NOW}`,
    release: `DELETE FROM ${table} WHERE ${byId} AND token = ? AND response IS NULL AND expires_at > ${NOW}`,
    inspect: `SELECT fingerprint, response, lease_until, expires_at FROM ${table} WHERE ${byId} AND expires_at > ${NOW}`,
    forget: `DELETE FROM ${table} WHERE ${byId} AND expires_at > ${NOW} AND (response IS NOT NULL OR ?)`,
    liveState: `SELECT response IS NULL AS in_flight FROM ${table} WHERE ${byId} AND expires_at > ${NOW}`,
    // DELETE … LIMIT needs a compile-time option; a rowid subquery does not. One statement, so atomic.
    sweep: `DELETE FROM ${table} WHERE rowid IN (SELECT rowid FROM ${table} WHERE expires_at <= ${NOW} LIMIT ?)`,
  };
}
