import type { Database, Statement, Transaction } from 'better-sqlite3';
import { Mutex } from 'async-mutex';
import { DataSource } from 'typeorm';
import {
  IdempotencyAcquireResult,
  IdempotencyForgetResult,
  IdempotencyRecordId,
  IdempotencyRecordSnapshot,
} from '../idempotency-store';
import { blockingResult, existingRecord, recordSnapshot } from './record-rows';
import { AcquireAttempt, qualifiedTable, SqlDialect } from './sql-dialect';
import { runInSqliteTurn, sqliteConnectionMutex } from './sqlite-connection-mutex';
import { buildStatements } from './sqlite.statements';

/** The statements of one better-sqlite3 connection, prepared once: SQLite then runs each in a few microseconds. */
interface Prepared {
  db: Database;
  /** Inserts a record for a key that has none, and does nothing otherwise: most keys are fresh. */
  insertFresh: Statement;
  acquire: Transaction<(id: IdempotencyRecordId, attempt: AcquireAttempt) => IdempotencyAcquireResult | undefined>;
  complete: Statement;
  release: Statement;
  inspect: Statement<[string, string, string], Record<string, unknown>>;
  forget: Transaction<(id: IdempotencyRecordId, force: boolean) => IdempotencyForgetResult>;
  sweep: Statement;
}

/**
 * SQLite through better-sqlite3, whose one connection every caller of the DataSource shares and whose statements
 * run synchronously. A statement issued while a unit of work holds the connection across awaits (a transaction,
 * the app's own or the transactional mode's) would join it, and its rollback: such units take turns through the
 * DataSource's mutex (`sqliteConnectionMutex`). When nobody holds the mutex and no transaction is open, nothing can
 * run between the first and the last step of a synchronous call, so the store's calls then run at once, without
 * the mutex, a timer or a promise round trip; otherwise they wait for their turn like every other unit.
 */
export class SqliteDialect implements SqlDialect {
  private prepared?: Prepared;
  private readonly mutex: Mutex;

  constructor(
    private readonly dataSource: DataSource,
    private readonly tableName: string,
  ) {
    this.mutex = sqliteConnectionMutex(dataSource)!;
  }

  isFree(): boolean {
    return !this.mutex.isLocked() && !this.connection().inTransaction;
  }

  exclusive<T>(work: () => Promise<T>): Promise<T> {
    return runInSqliteTurn(this.dataSource, work);
  }

  acquire(id: IdempotencyRecordId, attempt: AcquireAttempt): IdempotencyAcquireResult | undefined {
    const statements = this.statements();
    // One statement, so atomic on its own: a fresh key needs no transaction around a read and an upsert.
    const { changes } = statements.insertFresh.run(
      id.namespace,
      id.scope,
      id.key,
      attempt.fingerprint,
      attempt.token,
      attempt.leaseMs,
      attempt.ttlMs,
    );
    if (changes > 0) return { state: 'acquired', takenOver: false };
    // IMMEDIATE: the write lock is taken before the read, so no other process writes between the read and the upsert.
    return statements.acquire.immediate(id, attempt);
  }

  complete(id: IdempotencyRecordId, token: string, response: string, ttlMs: number): boolean {
    return this.statements().complete.run(response, ttlMs, id.namespace, id.scope, id.key, token).changes > 0;
  }

  /** On the one connection, so inside the transaction the runner opened. */
  async completeIn(
    _runner: unknown,
    id: IdempotencyRecordId,
    token: string,
    response: string,
    ttlMs: number,
  ): Promise<boolean> {
    return this.complete(id, token, response, ttlMs);
  }

  release(id: IdempotencyRecordId, token: string): boolean {
    return this.statements().release.run(id.namespace, id.scope, id.key, token).changes > 0;
  }

  inspect(id: IdempotencyRecordId): IdempotencyRecordSnapshot | undefined {
    return recordSnapshot(this.statements().inspect.get(id.namespace, id.scope, id.key));
  }

  forget(id: IdempotencyRecordId, force: boolean): IdempotencyForgetResult {
    return this.statements().forget.immediate(id, force);
  }

  sweep(batchSize: number): number {
    return this.statements().sweep.run(batchSize).changes;
  }

  private connection(): Database {
    const db = (this.dataSource.driver as unknown as { databaseConnection?: Database }).databaseConnection;
    if (!db) throw new Error('TypeOrmIdempotencyStore: the DataSource is not initialised (no SQLite connection)');
    return db;
  }

  /** The statements of the current connection (a DataSource closed and opened again has a new one). */
  private statements(): Prepared {
    const db = this.connection();
    if (this.prepared?.db !== db)
      this.prepared = prepare(db, qualifiedTable(this.dataSource, this.tableName, 'schema'));
    return this.prepared;
  }
}

function prepare(db: Database, table: string): Prepared {
  const sql = buildStatements(table);
  const forget = db.prepare(sql.forget);
  const liveState = db.prepare<[string, string, string], { in_flight: number }>(sql.liveState);
  const read = db.prepare<[string, string, string], Record<string, unknown>>(sql.read);
  const upsert = db.prepare(sql.upsert);
  return {
    db,
    insertFresh: db.prepare(sql.insertFresh),
    // The read, the guarded upsert and the decision run in one transaction without yielding to the event loop:
    // nothing interleaves, in this process or another one.
    acquire: db.transaction((id: IdempotencyRecordId, attempt: AcquireAttempt) => {
      const row = read.get(id.namespace, id.scope, id.key)!;
      const now = Number(row.now);
      const prev = existingRecord(row, now);
      const { changes } = upsert.run(
        id.namespace,
        id.scope,
        id.key,
        attempt.fingerprint,
        attempt.token,
        now + attempt.leaseMs,
        now + attempt.ttlMs,
        now,
        now,
      );
      if (changes > 0) return { state: 'acquired' as const, takenOver: prev !== undefined && prev.ttlLeftMs > 0 };
      return blockingResult(prev, attempt.fingerprint);
    }),
    complete: db.prepare(sql.complete),
    release: db.prepare(sql.release),
    inspect: db.prepare(sql.inspect),
    // The DELETE decides; when it deleted nothing, the read in the same transaction (no writer in between, IMMEDIATE
    // holding the write lock) says why.
    forget: db.transaction((id: IdempotencyRecordId, force: boolean): IdempotencyForgetResult => {
      if (forget.run(id.namespace, id.scope, id.key, force ? 1 : 0).changes > 0) return 'forgotten';
      const live = liveState.get(id.namespace, id.scope, id.key);
      return live?.in_flight === 1 && !force ? 'in_flight' : 'absent';
    }),
    sweep: db.prepare(sql.sweep),
  };
}
