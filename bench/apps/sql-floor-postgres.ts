/*
 * The PostgreSQL floors on a bare `pg.Pool`: the statements of libs/idempotency/src/stores/typeorm/postgres.statements.ts
 * for a fresh key, written out by hand for the floors' table, as named statements (prepared once per connection,
 * as the store's are).
 */
import { performance } from 'node:perf_hooks';
import { Pool, QueryConfig } from 'pg';
import { FLOOR_TABLE, FloorKeyTaken, FloorRecord, FloorStatements, SqlFloor } from './sql-floor';

const TABLE = `"${FLOOR_TABLE}"`;
const NOW = 'floor(extract(epoch FROM statement_timestamp()) * 1000)::bigint';
const COLUMNS = 'namespace, scope, "key", fingerprint, token, lease_until, expires_at, response';

/** The store's fresh-key insert; `deferFlush` is its transactional-mode twin, which commits without a flush wait. */
function insertFresh(deferFlush: boolean): string {
  return `WITH ${deferFlush ? "no_flush_wait AS (SELECT set_config('synchronous_commit', 'off', true)), " : ''}inserted AS (
         INSERT INTO ${TABLE} (${COLUMNS})
         SELECT $1::varchar, $2::varchar, $3::varchar, $4::varchar, $5::varchar,
                ${NOW} + $6::bigint, ${NOW} + $7::bigint, NULL${deferFlush ? ' FROM no_flush_wait' : ''}
         ON CONFLICT (namespace, scope, "key") DO NOTHING
         RETURNING 1
       )
       SELECT (SELECT count(*) FROM inserted) AS inserted, r.fingerprint, r.response,
              r.lease_until - ${NOW} AS lease_left, r.expires_at - ${NOW} AS ttl_left
       FROM (SELECT 1) AS one
       LEFT JOIN ${TABLE} AS r ON r.namespace = $1::varchar AND r.scope = $2::varchar AND r."key" = $3::varchar`;
}

const INSERT = insertFresh(false);
const INSERT_DEFERRED = insertFresh(true);
const COMPLETE = `UPDATE ${TABLE} SET response = $1, token = NULL, expires_at = ${NOW} + $2::bigint
       WHERE namespace = $3 AND scope = $4 AND "key" = $5 AND token = $6 AND response IS NULL AND expires_at > ${NOW}`;

/** The migration's table on PostgreSQL, as TypeORM creates it. */
const CREATE_TABLE = [
  `CREATE TABLE IF NOT EXISTS ${TABLE} (
     "namespace" character varying(100) NOT NULL, "scope" character varying(255) NOT NULL,
     "key" character varying(255) NOT NULL, "fingerprint" character varying(255) NOT NULL,
     "token" character varying(255), "lease_until" bigint NOT NULL, "expires_at" bigint NOT NULL, "response" text,
     PRIMARY KEY ("namespace", "scope", "key"))`,
  `CREATE INDEX IF NOT EXISTS "IDX_${FLOOR_TABLE}_expires_at" ON ${TABLE} ("expires_at")`,
];

const claimValues = (r: FloorRecord) => [r.namespace, r.scope, r.key, r.fingerprint, r.token, r.leaseMs, r.ttlMs];
const completeValues = (r: FloorRecord, response: string) => [response, r.ttlMs, r.namespace, r.scope, r.key, r.token];
const named = (name: string, text: string, values: unknown[]): QueryConfig => ({ name, text, values });

async function openPool(url: string, max: number): Promise<Pool> {
  const pool = new Pool({ connectionString: url, max });
  // An idle client whose server goes away emits 'error'; unheard, it would end the process.
  pool.on('error', () => undefined);
  for (const statement of CREATE_TABLE) await pool.query(statement);
  return pool;
}

/** The store's fresh key: the insert commits on its own, then the completion does. */
export async function openPostgresFloor(url: string, poolSize: number): Promise<FloorStatements & { pool: Pool }> {
  const pool = await openPool(url, poolSize);
  return {
    pool,
    async claim(record) {
      const { rows } = await pool.query(named('floor_insert', INSERT, claimValues(record)));
      return Number((rows[0] as { inserted: string }).inserted) > 0;
    },
    async complete(record, response) {
      const { rowCount } = await pool.query(named('floor_complete', COMPLETE, completeValues(record, response)));
      return (rowCount ?? 0) > 0;
    },
    close: () => pool.end(),
  };
}

/**
 * The transactional mode's fresh key: the insert commits on its own without waiting for its flush, then one
 * transaction on one client holds the handler's work and the completion (BEGIN, the completion, COMMIT).
 */
export async function openPostgresTransactionFloor(url: string, poolSize: number): Promise<SqlFloor & { pool: Pool }> {
  const pool = await openPool(url, poolSize);
  return {
    pool,
    async guard(record, work, stored, claimed) {
      const started = performance.now();
      const { rows } = await pool.query(named('floor_insert_deferred', INSERT_DEFERRED, claimValues(record)));
      if (Number((rows[0] as { inserted: string }).inserted) === 0) throw new FloorKeyTaken(record.key);
      claimed(performance.now() - started);
      const client = await pool.connect();
      let broken: Error | undefined;
      try {
        await client.query('BEGIN');
        try {
          const value = await work();
          const completed = await client.query(
            named('floor_complete', COMPLETE, completeValues(record, stored(value))),
          );
          if (!completed.rowCount) throw new Error(`the completion of ${record.key} updated no row`);
          await client.query('COMMIT');
          return value;
        } catch (error) {
          await client.query('ROLLBACK').catch((rollbackError: Error) => (broken = rollbackError));
          throw error;
        }
      } finally {
        // A client that could not even roll back goes back with its error, so the pool discards it.
        client.release(broken);
      }
    },
    close: () => pool.end(),
  };
}
