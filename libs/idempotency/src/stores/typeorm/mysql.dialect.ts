import type { QueryError, ResultSetHeader, RowDataPacket } from 'mysql2';
import { DataSource, QueryRunner } from 'typeorm';
import {
  IdempotencyAcquireResult,
  IdempotencyForgetResult,
  IdempotencyRecordId,
  IdempotencyRecordSnapshot,
} from '../idempotency-store';
import { IdempotencyStoreUnreachableError } from '../idempotency-store-unreachable.error';
import { blockingResult, existingRecordLeft, recordSnapshot } from './record-rows';
import { AcquireAttempt, qualifiedTable, SqlDialect, StoreCall } from './sql-dialect';
import { MysqlConnections, MysqlConnection } from './mysql-connections';
import { buildStatements, LOST, REPLACED_EXPIRED, Statements, TOOK_OVER } from './mysql.statements';

// A statement the database aborted as a deadlock victim (ER_LOCK_DEADLOCK) changed nothing: safe to run again.
const MAX_DEADLOCK_RETRIES = 5;
const ER_LOCK_DEADLOCK = 1213;

// A forget that deleted nothing reads what stopped it; a record completed in between is tried again, this many times.
const MAX_FORGET_ROUNDS = 10;

type Result = ResultSetHeader | RowDataPacket[];
/** Strings go as bytes, numbers as numbers. */
type Param = Buffer | number;

/**
 * MySQL and MariaDB through mysql2: each call takes a connection from the pool TypeORM opened and runs `execute`,
 * which prepares the statement on the server once per connection. Strings travel as bytes (Buffers), so the
 * connection's character set never transcodes (or mangles) them; the id columns are VARBINARY.
 */
export class MysqlDialect implements SqlDialect {
  private statements?: Statements;
  private readonly connections: MysqlConnections;

  constructor(
    private readonly dataSource: DataSource,
    private readonly tableName: string,
  ) {
    this.connections = new MysqlConnections(dataSource);
  }

  async acquire(
    id: IdempotencyRecordId,
    attempt: AcquireAttempt,
    call: StoreCall,
  ): Promise<IdempotencyAcquireResult | undefined> {
    const ids = idParams(id);
    const upsert = (await this.run(call, this.sql().acquire, [
      ...ids,
      bytes(attempt.fingerprint),
      bytes(attempt.token),
      attempt.leaseMs,
      attempt.ttlMs,
    ])) as ResultSetHeader;
    const outcome = Number(upsert.insertId ?? 0);
    if (outcome === 0 || outcome === REPLACED_EXPIRED) return { state: 'acquired', takenOver: false };
    if (outcome === TOOK_OVER) return { state: 'acquired', takenOver: true };
    if (outcome !== LOST) throw new Error(`TypeOrmIdempotencyStore: unexpected MySQL upsert outcome ${outcome}`);
    // The decision is made; this second statement only reports what won. Should the row have changed since so that
    // it no longer blocks this request, blockingResult says so and acquire decides again.
    const rows = (await this.run(call, this.sql().readExisting, ids)) as RowDataPacket[];
    return blockingResult(existingRecordLeft(rows[0]), attempt.fingerprint);
  }

  async complete(
    id: IdempotencyRecordId,
    token: string,
    response: string,
    ttlMs: number,
    call: StoreCall,
  ): Promise<boolean> {
    const result = (await this.run(
      call,
      this.sql().complete,
      completeParams(id, token, response, ttlMs),
    )) as ResultSetHeader;
    return result.affectedRows > 0;
  }

  async completeIn(
    runner: QueryRunner,
    id: IdempotencyRecordId,
    token: string,
    response: string,
    ttlMs: number,
  ): Promise<boolean> {
    // The transaction's own connection, so the record commits with the handler's writes.
    const connection = (await runner.connect()) as MysqlConnection;
    const result = (await execute(
      connection,
      this.sql().complete,
      completeParams(id, token, response, ttlMs),
    )) as ResultSetHeader;
    return result.affectedRows > 0;
  }

  async release(id: IdempotencyRecordId, token: string, call: StoreCall): Promise<boolean> {
    const result = (await this.run(call, this.sql().release, [...idParams(id), bytes(token)])) as ResultSetHeader;
    return result.affectedRows > 0;
  }

  async inspect(id: IdempotencyRecordId, call: StoreCall): Promise<IdempotencyRecordSnapshot | undefined> {
    const rows = (await this.run(call, this.sql().inspect, idParams(id))) as RowDataPacket[];
    return recordSnapshot(rows[0]);
  }

  /**
   * The DELETE alone decides, in one statement under the row's lock, so of concurrent forgets one deletes. MySQL
   * has no DELETE … RETURNING, so a forget that deleted nothing reads why: an in-flight record, or none. Should
   * that read find a completed record (the in-flight one completed meanwhile), the DELETE runs again.
   */
  async forget(id: IdempotencyRecordId, force: boolean, call: StoreCall): Promise<IdempotencyForgetResult> {
    const ids = idParams(id);
    for (let round = 1; round <= MAX_FORGET_ROUNDS; round++) {
      const deleted = (await this.run(call, this.sql().forget, [...ids, force ? 1 : 0])) as ResultSetHeader;
      if (deleted.affectedRows > 0) return 'forgotten';
      // With force any live row would have gone: none was there.
      if (force) return 'absent';
      const rows = (await this.run(call, this.sql().liveState, ids)) as RowDataPacket[];
      if (rows.length === 0) return 'absent';
      if (Number(rows[0].in_flight) === 1) return 'in_flight';
    }
    throw new Error(
      `TypeOrmIdempotencyStore: the record changed under every one of ${MAX_FORGET_ROUNDS} forget attempts; giving up`,
    );
  }

  async sweep(batchSize: number, call: StoreCall): Promise<number> {
    // A plain query: mysql2 binds numbers as DOUBLE, which a prepared LIMIT refuses; the sweep is no hot path.
    return ((await this.run(call, this.sql().sweep, [batchSize], false)) as ResultSetHeader).affectedRows;
  }

  /**
   * Runs one statement on a pooled connection, again when the database chose it as a deadlock victim. A connection
   * mysql2 marks as fatally failed is destroyed rather than given back. Written with mysql2's callbacks, as its own
   * `pool.execute` is: every statement of every call passes here, and a promise per step costs CPU.
   */
  private run(call: StoreCall, sql: string, values: Param[], prepared = true): Promise<Result> {
    return new Promise((resolve, reject) =>
      this.connections.obtain((connectError, connection) => {
        // A pool that could give no connection (refused, no such host, queue limit) sent nothing.
        if (!connection) {
          const reason = 'TypeOrmIdempotencyStore: no connection to MySQL';
          reject(IdempotencyStoreUnreachableError.because(reason, connectError));
          return;
        }
        // The caller gave up while the pool made it wait: nothing it no longer waits for may still run.
        if (call.abandoned) {
          connection.release();
          reject(new Error('TypeOrmIdempotencyStore: the call timed out before a connection was free'));
          return;
        }
        const attempt = (attempts: number) => {
          const answered = (error: QueryError | null, result: Result) => {
            if (!error) {
              connection.release();
              resolve(result);
            } else if (attempts < MAX_DEADLOCK_RETRIES && error.errno === ER_LOCK_DEADLOCK) {
              attempt(attempts + 1);
            } else {
              if (error.fatal === true) connection.destroy();
              else connection.release();
              reject(error);
            }
          };
          if (prepared) connection.execute<Result>(sql, values, answered);
          else connection.query<Result>(sql, values, answered);
        };
        attempt(1);
      }),
    );
  }

  private sql(): Statements {
    this.statements ??= buildStatements(qualifiedTable(this.dataSource, this.tableName, 'database'));
    return this.statements;
  }
}

function idParams(id: IdempotencyRecordId): Buffer[] {
  return [bytes(id.namespace), bytes(id.scope), bytes(id.key)];
}

function completeParams(id: IdempotencyRecordId, token: string, response: string, ttlMs: number): Param[] {
  return [bytes(response), ttlMs, ...idParams(id), bytes(token)];
}

function bytes(value: string): Buffer {
  return Buffer.from(value, 'utf8');
}

function execute(connection: MysqlConnection, sql: string, values: Param[]): Promise<Result> {
  return new Promise((resolve, reject) =>
    connection.execute<Result>(sql, values, (error, result) => (error ? reject(error) : resolve(result))),
  );
}
