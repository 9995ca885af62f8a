/*
 * The SQLite floor on a bare better-sqlite3 connection: the statements of
 * libs/idempotency/src/stores/typeorm/sqlite.dialect.ts for a fresh key, written out by hand for the floors' table,
 * prepared once, on a connection opened as TypeORM opens it with `enableWAL` (WAL, foreign keys on).
 */
import Database from 'better-sqlite3';
import { FLOOR_TABLE, FloorRecord, FloorStatements } from './sql-floor';

const TABLE = `"${FLOOR_TABLE}"`;
const NOW = "CAST(ROUND((julianday('now') - 2440587.5) * 86400000) AS INTEGER)";

/** The migration's table on SQLite, as TypeORM creates it. */
const CREATE_TABLE = `CREATE TABLE IF NOT EXISTS ${TABLE} (
  "namespace" varchar(100) NOT NULL, "scope" varchar(255) NOT NULL, "key" varchar(255) NOT NULL,
  "fingerprint" varchar(255) NOT NULL, "token" varchar(255), "lease_until" bigint NOT NULL,
  "expires_at" bigint NOT NULL, "response" text, PRIMARY KEY ("namespace", "scope", "key"));
  CREATE INDEX IF NOT EXISTS "IDX_${FLOOR_TABLE}_expires_at" ON ${TABLE} ("expires_at");`;

/** The store's fresh key: the insert commits on its own, then the completion does, each at once, synchronously. */
export function openSqliteFloor(path: string): FloorStatements & { db: Database.Database } {
  const db = new Database(path);
  db.pragma('foreign_keys = ON');
  db.pragma('journal_mode = WAL');
  db.exec(CREATE_TABLE);
  const insertFresh = db.prepare(`
      INSERT INTO ${TABLE} (namespace, scope, "key", fingerprint, token, lease_until, expires_at, response)
      VALUES (?, ?, ?, ?, ?, ${NOW} + ?, ${NOW} + ?, NULL)
      ON CONFLICT (namespace, scope, "key") DO NOTHING`);
  const complete = db.prepare(
    `UPDATE ${TABLE} SET response = ?, token = NULL, expires_at = ${NOW} + ? ` +
      `WHERE namespace = ? AND scope = ? AND "key" = ? AND token = ? AND response IS NULL AND expires_at > ${NOW}`,
  );
  return {
    db,
    claim: (r: FloorRecord) =>
      insertFresh.run(r.namespace, r.scope, r.key, r.fingerprint, r.token, r.leaseMs, r.ttlMs).changes > 0,
    complete: (r: FloorRecord, response: string) =>
      complete.run(response, r.ttlMs, r.namespace, r.scope, r.key, r.token).changes > 0,
    close: async () => void db.close(),
  };
}
