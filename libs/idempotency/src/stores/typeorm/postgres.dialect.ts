import { createHash } from 'node:crypto';
import type { Pool, PoolClient, QueryConfig, QueryResult } from 'pg';
import { DataSource, QueryRunner } from 'typeorm';
import { IdempotencyAcquireResult, IdempotencyRecordId } from '../idempotency-store';
import { IdempotencyStoreUnreachableError } from '../idempotency-store-unreachable.error';
import { blockingResult, existingRecord, existingRecordLeft } from './record-rows';
import { AcquireAttempt, qualifiedTable, SqlDialect, StoreCall } from './sql-dialect';

// statement_timestamp(), not now(): it stays right inside the transactional mode's longer transaction.
const NOW = 'floor(extract(epoch FROM statement_timestamp()) * 1000)::bigint';

// Inside a statement, set_config(..., true) lasts until the statement's own transaction commits, and
// synchronous_commit is read at that commit: the statement commits without waiting for its WAL to reach disk.
const NO_FLUSH_WAIT = "SELECT set_config('synchronous_commit', 'off', true)";

// A statement the database aborted as a deadlock victim changed nothing, so it is safe to run again.
const MAX_DEADLOCK_RETRIES = 5;

/** A named statement: node-postgres prepares it once per connection, so the server parses and plans it once. */
interface NamedStatement {
  name: string;
  text: string;
}

/** The two statements of an acquire: the insert of a fresh key, and the full decision. */
interface AcquireStatements {
  /** Inserts a record for a key that has none, and does nothing otherwise: most keys are fresh. */
  insertFresh: NamedStatement;
  decide: NamedStatement;
}

interface Statements {
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
  sweep: NamedStatement;
}

/**
 * PostgreSQL through node-postgres: each call takes a client from the pool TypeORM opened (`driver.master`) and
 * runs one named prepared statement on it, without a TypeORM QueryRunner in between.
 */
export class PostgresDialect implements SqlDialect {
  private statements?: Statements;
  // pg-pool stops listening to a client's 'error' while it is handed out; one without a listener would crash the
  // process when its server goes away. Each client the store uses gets a listener of its own, once.
  private readonly listenedTo = new WeakSet<PoolClient>();

  constructor(
    private readonly dataSource: DataSource,
    private readonly tableName: string,
  ) {}

  async acquire(
    id: IdempotencyRecordId,
    attempt: AcquireAttempt,
    call: StoreCall,
  ): Promise<IdempotencyAcquireResult | undefined> {
    const statements = this.sql();
    const { insertFresh, decide } = attempt.durableWithWork ? statements.acquireDurableWithWork : statements.acquire;
    const values = [id.namespace, id.scope, id.key, attempt.fingerprint, attempt.token, attempt.leaseMs, attempt.ttlMs];
    // A fresh key takes one plain insert, which the server runs at a fraction of the cost of the full decision
    // below; the insert alone decides (a concurrent insert of the same key makes it wait, then do nothing).
    if ((await this.run(call, insertFresh, values)).rowCount === 1) return { state: 'acquired', takenOver: false };
    const { rows } = await this.run(call, decide, values);
    const row = rows[0] as Record<string, unknown>;
    // `prev` is the current row, locked before the insert ran, so it is exactly what the insert decided on.
    const prev = existingRecord(row, Number(row.now));
    if (Number(row.won) > 0) return { state: 'acquired', takenOver: prev !== undefined && prev.ttlLeftMs > 0 };
    if (prev) return blockingResult(prev, attempt.fingerprint);
    // Lost to a row this statement's snapshot cannot see (inserted by a transaction that committed after the
    // statement began); a new statement, with a new snapshot, can.
    const existing = await this.run(call, this.sql().readExisting, [id.namespace, id.scope, id.key]);
    return blockingResult(existingRecordLeft(existing.rows[0]), attempt.fingerprint);
  }

  async complete(
    id: IdempotencyRecordId,
    token: string,
    response: string,
    ttlMs: number,
    call: StoreCall,
  ): Promise<boolean> {
    const { rowCount } = await this.run(call, this.sql().complete, [
      response,
      ttlMs,
      id.namespace,
      id.scope,
      id.key,
      token,
    ]);
    return (rowCount ?? 0) > 0;
  }

  async completeIn(
    runner: QueryRunner,
    id: IdempotencyRecordId,
    token: string,
    response: string,
    ttlMs: number,
  ): Promise<boolean> {
    // The transaction's own connection, so the record commits with the handler's writes; still a named statement.
    const client = (await runner.connect()) as PoolClient;
    const { rowCount } = await client.query(
      named(this.sql().complete, [response, ttlMs, id.namespace, id.scope, id.key, token]),
    );
    return (rowCount ?? 0) > 0;
  }

  async release(id: IdempotencyRecordId, token: string, call: StoreCall): Promise<boolean> {
    const { rowCount } = await this.run(call, this.sql().release, [id.namespace, id.scope, id.key, token]);
    return (rowCount ?? 0) > 0;
  }

  async sweep(batchSize: number, call: StoreCall): Promise<number> {
    return (await this.run(call, this.sql().sweep, [batchSize])).rowCount ?? 0;
  }

  /**
   * Runs one statement on a pooled client, again when the database chose it as a deadlock victim. A client that
   * failed other than by the server's refusal (a lost connection, a protocol error) goes back to the pool with
   * its error, so the pool discards it rather than hand it out again.
   */
  private async run(call: StoreCall, statement: NamedStatement, values: unknown[]): Promise<QueryResult> {
    const client = await connectOrUnreachable(this.pool());
    let failure: unknown;
    try {
      // The caller gave up while the pool made it wait: nothing it no longer waits for may still run.
      if (call.abandoned) throw new Error('TypeOrmIdempotencyStore: the call timed out before a connection was free');
      if (!this.listenedTo.has(client)) {
        client.on('error', ignoreLostConnection);
        this.listenedTo.add(client);
      }
      for (let attempt = 1; ; attempt++) {
        try {
          return await client.query(named(statement, values));
        } catch (error) {
          if (attempt >= MAX_DEADLOCK_RETRIES || !isDeadlock(error)) throw error;
        }
      }
    } catch (error) {
      failure = error;
      throw error;
    } finally {
      client.release(failure !== undefined && !isStatementError(failure) ? (failure as Error) : undefined);
    }
  }

  private pool(): Pool {
    const pool = (this.dataSource.driver as unknown as { master?: Pool }).master;
    if (!pool) throw new Error('TypeOrmIdempotencyStore: the DataSource is not initialised (no PostgreSQL pool)');
    return pool;
  }

  private sql(): Statements {
    this.statements ??= buildStatements(qualifiedTable(this.dataSource, this.tableName, 'schema'));
    return this.statements;
  }
}

/** A client from the pool; the pool's failure to give one (refused, no such host, its wait ran out) sent nothing. */
async function connectOrUnreachable(pool: Pool): Promise<PoolClient> {
  try {
    return await pool.connect();
  } catch (error) {
    throw IdempotencyStoreUnreachableError.because('TypeOrmIdempotencyStore: no connection to PostgreSQL', error);
  }
}

function buildStatements(table: string): Statements {
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
    insertFresh: statement(
      `insert_${purpose}`,
      `${deferFlush ? `WITH ${noFlushWait} ` : ''}INSERT INTO ${table} (${columns})
       SELECT $1::varchar, $2::varchar, $3::varchar, $4::varchar, $5::varchar,
              ${NOW} + $6::bigint, ${NOW} + $7::bigint, NULL${fromNoFlushWait}
       ON CONFLICT (namespace, scope, "key") DO NOTHING`,
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

function named(statement: NamedStatement, values: unknown[]): QueryConfig {
  return { name: statement.name, text: statement.text, values };
}

function isDeadlock(error: unknown): boolean {
  // deadlock_detected, serialization_failure.
  const code = (error as { code?: unknown } | null)?.code;
  return code === '40P01' || code === '40001';
}

/** The server refused the statement and the session goes on (an ERROR, not FATAL): the client stays usable. */
function isStatementError(error: unknown): boolean {
  const { severity } = (error ?? {}) as { severity?: unknown };
  return typeof severity === 'string' && severity !== 'FATAL' && severity !== 'PANIC';
}

function ignoreLostConnection(): void {
  // Nothing to do: the query running on the client rejects with this error, and the client then goes back to the
  // pool with it, which discards it.
}
