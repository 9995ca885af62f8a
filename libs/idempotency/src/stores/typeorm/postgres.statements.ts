import { createHash } from 'node:crypto';

// The SQL text of the PostgreSQL dialect; `PostgresDialect` runs it.

// statement_timestamp(), not now(): it stays right inside the transactional mode's longer transaction.
const NOW = 'floor(extract(epoch FROM statement_timestamp()) * 1000)::bigint';

// Inside a statement, set_config(..., true) lasts until the statement's own transaction commits, and
// synchronous_commit is read at that commit: the statement commits without waiting for its WAL to reach disk.
const NO_FLUSH_WAIT = "SELECT set_config('synchronous_commit', 'off', true)";

/** A named statement: node-postgres prepares it once per connection, so the server parses and plans it once. */
export interface NamedStatement {
  name: string;
  text: string;
}

/** The two statements of an acquire: the insert of a fresh key, and the full decision. */
export interface AcquireStatements {
  /**
   * Inserts a record for a key that has none, and does nothing otherwise: most keys are fresh. It also returns the
   * live row its snapshot sees, without locking it, so a replay or a request in flight is answered by this one
   * statement, which writes nothing: no transaction id, no WAL, no flush.
   */
  insertFresh: NamedStatement;
  decide: NamedStatement;
}

/** Every statement the dialect runs, built once per table. */
export interface Statements {
  acquire: AcquireStatements;
  /**
   * The same, committed without waiting for the WAL flush (`durableWithWork`): the work's transaction commits
   * later on the same server, and its flush carries every WAL record written before it, this one included.
   */
  acquireDurableWithWork: AcquireStatements;
  /** Reads the row an acquire lost to, with its lease and TTL left. */
  readExisting: NamedStatement;
  complete: NamedStatement;
  release: NamedStatement;
  /** The live row with its absolute times. */
  inspect: NamedStatement;
  /** Deletes a live completed row (any live row with force) and reports whether it deleted, and what was there. */
  forget: NamedStatement;
  sweep: NamedStatement;
}

/** Every statement of the dialect, on `table` (escaped and qualified). */
export function buildStatements(table: string): Statements {
  const byId = (first: number) => `namespace = $${first} AND scope = $${first + 1} AND "key" = $${first + 2}`;
  return {
    acquire: acquireStatements(table, false),
    acquireDurableWithWork: acquireStatements(table, true),
    readExisting: statement(
      'read',
      `SELECT fingerprint, response, lease_until - ${NOW} AS lease_left, expires_at - ${NOW} AS ttl_left
       FROM ${table} WHERE ${byId(1)}`,
    ),
    complete: statement(
      'complete',
      `UPDATE ${table} SET response = $1, token = NULL, expires_at = ${NOW} + $2::bigint
       WHERE ${byId(3)} AND token = $6 AND response IS NULL AND expires_at > ${NOW}`,
    ),
    release: statement(
      'release',
      `DELETE FROM ${table} WHERE ${byId(1)} AND token = $4 AND response IS NULL AND expires_at > ${NOW}`,
    ),
    inspect: statement(
      'inspect',
      `SELECT fingerprint, response, lease_until, expires_at FROM ${table} WHERE ${byId(1)} AND expires_at > ${NOW}`,
    ),
    // One statement: the DELETE alone decides (it re-checks a row a concurrent writer changed before deleting it, so
    // of concurrent forgets one deletes); `target` only says, from the statement's snapshot, why nothing was deleted.
    forget: statement(
      'forget',
      `WITH target AS (
         SELECT response IS NULL AS in_flight FROM ${table} WHERE ${byId(1)} AND expires_at > ${NOW}
       ), forgotten AS (
         DELETE FROM ${table}
         WHERE ${byId(1)} AND expires_at > ${NOW} AND (response IS NOT NULL OR $4::boolean)
         RETURNING 1
       )
       SELECT (SELECT count(*) FROM forgotten) AS forgotten, (SELECT in_flight FROM target) AS in_flight`,
    ),
    // SKIP LOCKED: concurrent sweepers take disjoint batches instead of queueing behind each other; the outer
    // expires_at test re-checks each row as it is deleted.
    sweep: statement(
      'sweep',
      `DELETE FROM ${table} AS r
       USING (
         SELECT namespace, scope, "key" FROM ${table}
         WHERE expires_at <= ${NOW}
         LIMIT $1::int
         FOR UPDATE SKIP LOCKED
       ) AS expired
       WHERE r.namespace = expired.namespace AND r.scope = expired.scope AND r."key" = expired."key"
         AND r.expires_at <= ${NOW}`,
    ),
  };
}

/**
 * The acquire statements. With `deferFlush`, each one's first CTE turns the flush wait of its own commit off; the
 * rows it writes are selected FROM that CTE, so PostgreSQL cannot leave it out.
 */
function acquireStatements(table: string, deferFlush: boolean): AcquireStatements {
  const columns = 'namespace, scope, "key", fingerprint, token, lease_until, expires_at, response';
  const noFlushWait = deferFlush ? `no_flush_wait AS (${NO_FLUSH_WAIT})` : '';
  const fromNoFlushWait = deferFlush ? ' FROM no_flush_wait' : '';
  const purpose = deferFlush ? 'deferred' : 'plain';
  return {
    // The SELECT reads the statement's snapshot, taken before the insert: a row it shows was there already, and one
    // a concurrent transaction committed meanwhile is not shown (the insert waited for it and did nothing), which the
    // caller takes to `decide`. A data-modifying CTE runs once whether or not it is read.
    insertFresh: statement(
      `insert_${purpose}`,
      `WITH ${deferFlush ? `${noFlushWait}, ` : ''}inserted AS (
         INSERT INTO ${table} (${columns})
         SELECT $1::varchar, $2::varchar, $3::varchar, $4::varchar, $5::varchar,
                ${NOW} + $6::bigint, ${NOW} + $7::bigint, NULL${fromNoFlushWait}
         ON CONFLICT (namespace, scope, "key") DO NOTHING
         RETURNING 1
       )
       SELECT (SELECT count(*) FROM inserted) AS inserted, r.fingerprint, r.response,
              r.lease_until - ${NOW} AS lease_left, r.expires_at - ${NOW} AS ttl_left
       FROM (SELECT 1) AS one
       LEFT JOIN ${table} AS r ON r.namespace = $1::varchar AND r.scope = $2::varchar AND r."key" = $3::varchar`,
    ),
    // One statement. `prev` locks the current row (FOR UPDATE waits for, then sees, a concurrent writer's commit),
    // so the insert's guard and the reported row are the same version; `won` says whether the insert (or the
    // guarded update of an expired / taken-over row) happened.
    decide: statement(
      `acquire_${purpose}`,
      `WITH ${deferFlush ? `${noFlushWait}, ` : ''}clock AS (
         SELECT ${NOW} AS now${fromNoFlushWait}
       ), prev AS (
         SELECT r.fingerprint, r.response, r.lease_until, r.expires_at
         FROM ${table} AS r
         WHERE r.namespace = $1::varchar AND r.scope = $2::varchar AND r."key" = $3::varchar
         FOR UPDATE
       ), upsert AS (
         INSERT INTO ${table} AS r (${columns})
         SELECT $1::varchar, $2::varchar, $3::varchar, $4::varchar, $5::varchar,
                clock.now + $6::bigint, clock.now + $7::bigint, NULL
         FROM clock LEFT JOIN prev ON true
         ON CONFLICT (namespace, scope, "key") DO UPDATE
         SET fingerprint = EXCLUDED.fingerprint, token = EXCLUDED.token, lease_until = EXCLUDED.lease_until,
             expires_at = EXCLUDED.expires_at, response = NULL
         WHERE r.expires_at <= (SELECT now FROM clock)
            OR (r.response IS NULL AND r.lease_until <= (SELECT now FROM clock)
                AND r.fingerprint = EXCLUDED.fingerprint)
         RETURNING 1
       )
       SELECT (SELECT count(*) FROM upsert) AS won, clock.now,
              prev.fingerprint, prev.response, prev.lease_until, prev.expires_at
       FROM clock LEFT JOIN prev ON true`,
    ),
  };
}

/**
 * A connection keeps a prepared statement under its name for its lifetime, and node-postgres refuses one name
 * for two texts: the name carries a hash of the text, so stores on other tables (other texts) never collide.
 */
function statement(purpose: string, text: string): NamedStatement {
  return { name: `idempotency_${purpose}_${createHash('sha256').update(text).digest('hex').slice(0, 16)}`, text };
}
