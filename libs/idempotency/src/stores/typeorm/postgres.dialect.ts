import type { Pool, PoolClient, QueryConfig, QueryResult } from 'pg';
import { DataSource, QueryRunner } from 'typeorm';
import {
  IdempotencyAcquireResult,
  IdempotencyForgetResult,
  IdempotencyRecordId,
  IdempotencyRecordSnapshot,
} from '../idempotency-store';
import { IdempotencyStoreUnreachableError } from '../idempotency-store-unreachable.error';
import { blockingResult, existingRecord, existingRecordLeft, recordSnapshot } from './record-rows';
import { AcquireAttempt, qualifiedTable, SqlDialect, StoreCall } from './sql-dialect';
import { buildStatements, NamedStatement, Statements } from './postgres.statements';

// A statement the database aborted as a deadlock victim changed nothing, so it is safe to run again.
const MAX_DEADLOCK_RETRIES = 5;

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
    const [fresh] = (await this.run(call, insertFresh, values)).rows as Array<Record<string, unknown>>;
    if (Number(fresh.inserted) > 0) return { state: 'acquired', takenOver: false };
    // A replay, or a request still in flight, as the insert's snapshot saw it: answered without a lock or a write.
    // A record to take over (expired, or its lease ended), or one the snapshot cannot see, takes the decision.
    const seen = blockingResult(fresh.ttl_left == null ? undefined : existingRecordLeft(fresh), attempt.fingerprint);
    if (seen) return seen;
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

  async inspect(id: IdempotencyRecordId, call: StoreCall): Promise<IdempotencyRecordSnapshot | undefined> {
    const { rows } = await this.run(call, this.sql().inspect, [id.namespace, id.scope, id.key]);
    return recordSnapshot(rows[0]);
  }

  async forget(id: IdempotencyRecordId, force: boolean, call: StoreCall): Promise<IdempotencyForgetResult> {
    const { rows } = await this.run(call, this.sql().forget, [id.namespace, id.scope, id.key, force]);
    const row = rows[0] as { forgotten: string | number; in_flight: boolean | null };
    if (Number(row.forgotten) > 0) return 'forgotten';
    // A row another forget deleted first is absent, whatever this statement's snapshot still saw.
    return row.in_flight === true && !force ? 'in_flight' : 'absent';
  }

  async sweep(batchSize: number, call: StoreCall): Promise<number> {
    return (await this.run(call, this.sql().sweep, [batchSize])).rowCount ?? 0;
  }

  /**
   * Runs one statement on a pooled client, again when the database chose it as a deadlock victim. A client that
   * failed other than by the server's refusal (a lost connection, a protocol error) goes back to the pool with
   * its error, so the pool discards it rather than hand it out again. Written with node-postgres's callbacks, as
   * its own `pool.query` is: every statement of every call passes here, and a promise per step costs CPU.
   */
  private run(call: StoreCall, statement: NamedStatement, values: unknown[]): Promise<QueryResult> {
    const pool = this.pool();
    return new Promise((resolve, reject) => {
      pool.connect((connectError, client) => {
        // The pool's failure to give a client (refused, no such host, its wait ran out) sent nothing.
        if (connectError || !client) {
          const reason = 'TypeOrmIdempotencyStore: no connection to PostgreSQL';
          reject(IdempotencyStoreUnreachableError.because(reason, connectError));
          return;
        }
        // The caller gave up while the pool made it wait: nothing it no longer waits for may still run.
        if (call.abandoned) {
          const abandoned = new Error('TypeOrmIdempotencyStore: the call timed out before a connection was free');
          client.release(abandoned);
          reject(abandoned);
          return;
        }
        if (!this.listenedTo.has(client)) {
          client.on('error', ignoreLostConnection);
          this.listenedTo.add(client);
        }
        const config = named(statement, values);
        const attempt = (attempts: number) =>
          client.query(config, (error: Error | null, result: QueryResult) => {
            if (!error) {
              client.release();
              resolve(result);
            } else if (attempts < MAX_DEADLOCK_RETRIES && isDeadlock(error)) {
              attempt(attempts + 1);
            } else {
              client.release(isStatementError(error) ? undefined : error);
              reject(error);
            }
          });
        attempt(1);
      });
    });
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
