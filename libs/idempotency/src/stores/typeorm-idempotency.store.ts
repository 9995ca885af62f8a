import { Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { Mutex } from 'async-mutex';
import { DataSource, EntityManager, QueryFailedError, QueryResult, QueryRunner } from 'typeorm';
import {
  IdempotencyAcquireRequest,
  IdempotencyAcquireResult,
  IdempotencyRecordId,
  IdempotencyStore,
  IdempotencyStoreTransaction,
  TransactionalIdempotencyStore,
} from './idempotency-store';
import { idempotencyTransactions } from './typeorm/idempotency-transaction';
import { sqliteConnectionMutex } from './typeorm/sqlite-connection-mutex';
import { IDEMPOTENCY_RECORD_MAX_BYTES, IDEMPOTENCY_RECORDS_TABLE } from './typeorm/idempotency-record.entity';

/** Options of the SQL store. */
export interface TypeOrmIdempotencyStoreOptions {
  /**
   * Table holding the records (`schema.table` on PostgreSQL, `database.table` on MySQL), default
   * `idempotency_records`. It must be the table the migration created.
   */
  tableName?: string;
  /** How often expired rows are deleted, in milliseconds (default 60,000); 0 turns the sweeper off. */
  sweepIntervalMs?: number;
  /** Most rows one sweep statement deletes (default 1,000), so no sweep holds many row locks for long. */
  sweepBatchSize?: number;
  /**
   * Longest time, in milliseconds, one store call (acquire, complete, release, sweep) may take, the wait for a
   * pooled connection or a row lock included, before it rejects (the library then answers 503). Default 5000.
   * The statement itself ends at the database's own bounds (statement_timeout, lock_timeout): set those too.
   */
  callTimeout?: number;
}

type Dialect = 'postgres' | 'mysql' | 'sqlite';

/** The parts of a better-sqlite3 `Database` the SQLite acquire uses. */
interface SqliteDatabase {
  prepare(sql: string): { get(...params: unknown[]): unknown; run(...params: unknown[]): { changes: number } };
  transaction<T>(fn: () => T): { immediate(): T };
}

interface Statements {
  acquire: string;
  /** PostgreSQL, MySQL: reads the row an acquire lost to, with its lease and TTL left. */
  readExisting: string;
  /** SQLite: the read (with the time) that opens the acquire transaction. */
  sqliteRead: string;
  complete: string;
  release: string;
  sweep: string;
}

/** An existing row as acquire reports it: times are left relative to the database's "now". */
interface ExistingRecord {
  fingerprint: string;
  response: string | null;
  leaseLeftMs: number;
  ttlLeftMs: number;
}

// One clock for every instance: the database's, read inside each statement. The app's Date.now() passed as a
// parameter would be more portable (the same SQL on every dialect, a fake clock in tests), but a lease decides
// whether another instance may run a handler again, and app servers' clocks drift apart: on the database's
// clock no skewed instance can take over a live lease early. Each expression is constant within its statement
// and yields epoch milliseconds. (SQLite's clock is the host's, but SQLite has only one host.)
const DATABASE_NOW: Record<Dialect, string> = {
  // statement_timestamp(), not now(): it stays right should the store ever run inside a longer transaction.
  postgres: 'floor(extract(epoch FROM statement_timestamp()) * 1000)::bigint',
  // UTC_TIMESTAMP, not UNIX_TIMESTAMP(NOW()): no session time zone (or DST hour) takes part.
  mysql: "(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', UTC_TIMESTAMP(6)) DIV 1000)",
  // julianday() rather than unixepoch('subsec'), which needs SQLite 3.42.
  sqlite: "CAST(ROUND((julianday('now') - 2440587.5) * 86400000) AS INTEGER)",
};

// What the MySQL upsert reports through LAST_INSERT_ID(code), because its affected-rows count cannot tell an
// unchanged row from an insert when the client sets CLIENT_FOUND_ROWS (mysql2 does). 0: a fresh insert.
const MYSQL_LOST = 1;
const MYSQL_REPLACED_EXPIRED = 2;
const MYSQL_TOOK_OVER = 3;

// The record can change between the statement that decides and the read that reports (a release, a sweep);
// acquire then starts over. Needing this many rounds means something rewrites the record in a tight loop.
const MAX_ACQUIRE_ROUNDS = 10;
// A statement the database aborted as a deadlock victim changed nothing, so it is safe to run again.
const MAX_DEADLOCK_RETRIES = 5;

const SIMPLE_TABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$/;

/**
 * The SQL store: records live in a table of the application's own database (PostgreSQL, MySQL/MariaDB or SQLite
 * through better-sqlite3), so every instance sharing that database shares them. Create the table with the
 * `CreateIdempotencyRecords1764259200000` migration.
 *
 * With `@nestjs/typeorm`, build it on the DataSource `TypeOrmModule.forRoot()` registers (the one
 * `@InjectDataSource()` injects); as the module's store Nest then starts and stops its sweeper:
 *
 * ```ts
 * IdempotencyModule.forRootAsync({
 *   inject: [getDataSourceToken()],
 *   useFactory: (dataSource: DataSource) => ({ store: new TypeOrmIdempotencyStore(dataSource) }),
 * })
 * ```
 *
 * or as a provider of your own, `@Injectable()` with
 * `constructor(@InjectDataSource() dataSource: DataSource) { super(dataSource, { sweepIntervalMs: 30_000 }); }`.
 */
export class TypeOrmIdempotencyStore
  extends IdempotencyStore
  implements TransactionalIdempotencyStore, OnModuleInit, OnModuleDestroy
{
  private readonly logger = new Logger(TypeOrmIdempotencyStore.name);
  private readonly dialect: Dialect;
  private readonly sqliteMutex: Mutex | undefined;
  private readonly tableName: string;
  private readonly sweepIntervalMs: number;
  private readonly sweepBatchSize: number;
  private readonly callTimeout: number;
  private statements?: Statements;
  private timer?: NodeJS.Timeout;
  private sweeping?: Promise<void>;
  private stopped = false;

  constructor(
    private readonly dataSource: DataSource,
    options: TypeOrmIdempotencyStoreOptions = {},
  ) {
    super();
    this.dialect = dialectOf(dataSource);
    this.sqliteMutex = sqliteConnectionMutex(dataSource);
    this.tableName = options.tableName ?? IDEMPOTENCY_RECORDS_TABLE;
    this.sweepIntervalMs = options.sweepIntervalMs ?? 60_000;
    this.sweepBatchSize = options.sweepBatchSize ?? 1000;
    this.callTimeout = options.callTimeout ?? 5000;
    if (!SIMPLE_TABLE_NAME.test(this.tableName)) {
      throw new Error(`TypeOrmIdempotencyStore: tableName must be an identifier or schema.identifier, got '${this.tableName}'`);
    }
    if (!Number.isSafeInteger(this.sweepIntervalMs) || this.sweepIntervalMs < 0) {
      throw new Error(`TypeOrmIdempotencyStore: sweepIntervalMs must be a non-negative integer, got ${options.sweepIntervalMs}`);
    }
    if (!Number.isSafeInteger(this.sweepBatchSize) || this.sweepBatchSize < 1) {
      throw new Error(`TypeOrmIdempotencyStore: sweepBatchSize must be a positive integer, got ${options.sweepBatchSize}`);
    }
    if (!Number.isSafeInteger(this.callTimeout) || this.callTimeout <= 0) {
      throw new Error(`TypeOrmIdempotencyStore: callTimeout must be a positive whole number, got ${options.callTimeout}`);
    }
  }

  acquire(id: IdempotencyRecordId, request: IdempotencyAcquireRequest): Promise<IdempotencyAcquireResult> {
    return this.bounded('acquire', () => this.acquireNow(id, request));
  }

  private async acquireNow(id: IdempotencyRecordId, request: IdempotencyAcquireRequest): Promise<IdempotencyAcquireResult> {
    checkLengths({ ...idParts(id), fingerprint: request.fingerprint, token: request.token });
    const leaseMs = durationMs('leaseMs', request.leaseMs);
    const ttlMs = durationMs('ttlMs', request.ttlMs);
    for (let round = 0; round < MAX_ACQUIRE_ROUNDS; round++) {
      const result =
        this.dialect === 'postgres'
          ? await this.acquirePostgres(id, request, leaseMs, ttlMs)
          : this.dialect === 'mysql'
            ? await this.acquireMysql(id, request, leaseMs, ttlMs)
            : this.acquireSqlite(id, request, leaseMs, ttlMs);
      if (result) return result;
    }
    throw new Error(
      `TypeOrmIdempotencyStore: the record changed under every one of ${MAX_ACQUIRE_ROUNDS} acquire attempts; giving up`,
    );
  }

  complete(id: IdempotencyRecordId, token: string, response: string, ttlMs: number): Promise<boolean> {
    return this.bounded('complete', () => this.completeOn(undefined, id, token, response, ttlMs));
  }

  /**
   * The transactional mode: runs `work` in one transaction on this store's DataSource. While it runs,
   * `IdempotencyTransaction.manager` is the transaction's EntityManager, so the handler's writes and the
   * record's completion commit together.
   */
  runInTransaction<T>(work: (transaction: IdempotencyStoreTransaction) => Promise<T>): Promise<T> {
    return this.exclusive(() => this.dataSource.transaction((manager: EntityManager) =>
      idempotencyTransactions.run(manager, () =>
        work({ complete: (id, token, response, ttlMs) => this.completeOn(manager.queryRunner, id, token, response, ttlMs) }),
      ),
    ));
  }

  sharesConnectionWith(connection: unknown): boolean {
    return connection === this.dataSource;
  }

  private async completeOn(
    runner: QueryRunner | undefined,
    id: IdempotencyRecordId,
    token: string,
    response: string,
    ttlMs: number,
  ): Promise<boolean> {
    checkLengths({ ...idParts(id), token });
    const params = [this.param(response), durationMs('ttlMs', ttlMs), ...this.idParams(id), this.param(token)];
    // Inside a transaction, a deadlock aborts the whole transaction: no retry there, the caller rolls back.
    const result = runner ? await runner.query(this.sql().complete, params, true) : await this.query(this.sql().complete, params);
    return (result.affected ?? 0) > 0;
  }

  release(id: IdempotencyRecordId, token: string): Promise<boolean> {
    return this.bounded('release', async () => {
      checkLengths({ ...idParts(id), token });
      const result = await this.query(this.sql().release, [...this.idParams(id), this.param(token)]);
      return (result.affected ?? 0) > 0;
    });
  }

  /**
   * Deletes up to `sweepBatchSize` expired records in one statement and resolves how many it deleted. Safe while
   * other instances sweep and acquire: a row is deleted only if it is still expired when the delete reaches it.
   */
  sweep(): Promise<number> {
    return this.bounded('sweep', async () => (await this.query(this.sql().sweep, [this.sweepBatchSize])).affected ?? 0);
  }

  /**
   * Runs one store call in its turn (`exclusive`) and rejects once `callTimeout` has passed, as the Redis store
   * does: a pool that has no connection to give or a row lock held elsewhere makes a 503, not a hung request.
   */
  private bounded<T>(operation: string, work: () => Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`TypeOrmIdempotencyStore: ${operation} got no answer from the database within ${this.callTimeout} ms`)),
        this.callTimeout,
      );
    });
    return Promise.race([this.exclusive(work), timeout]).finally(() => clearTimeout(timer));
  }

  /** On SQLite every call takes its turn on the one connection (see `sqliteConnectionMutex`). */
  private exclusive<T>(work: () => Promise<T>): Promise<T> {
    return this.sqliteMutex ? this.sqliteMutex.runExclusive(work) : work();
  }

  /** Starts the sweeper (unless `sweepIntervalMs` is 0); its timer never keeps the process alive. */
  onModuleInit(): void {
    if (this.sweepIntervalMs === 0 || this.timer) return;
    this.stopped = false;
    this.timer = setInterval(() => this.sweepInBackground(), this.sweepIntervalMs);
    this.timer.unref();
  }

  /** Stops the sweeper and waits for a running sweep, before TypeORM closes the DataSource under it. */
  async onModuleDestroy(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    this.timer = undefined;
    await this.sweeping;
  }

  private async acquirePostgres(
    id: IdempotencyRecordId,
    request: IdempotencyAcquireRequest,
    leaseMs: number,
    ttlMs: number,
  ): Promise<IdempotencyAcquireResult | undefined> {
    const { records } = await this.query(this.sql().acquire, [
      id.namespace,
      id.scope,
      id.key,
      request.fingerprint,
      request.token,
      leaseMs,
      ttlMs,
    ]);
    const row = records[0] as Record<string, string | null>;
    const now = Number(row.now);
    // `prev` is the current row, locked before the insert ran, so it is exactly what the insert decided on.
    const prev = existingRecord(row, now);
    if (Number(row.won) > 0) return { state: 'acquired', takenOver: prev !== undefined && prev.ttlLeftMs > 0 };
    if (prev) return blockingResult(prev, request.fingerprint);
    // Lost to a row this statement's snapshot cannot see (inserted by a transaction that committed after the
    // statement began); a new statement, with a new snapshot, can.
    return this.readExisting(id, request.fingerprint);
  }

  private async acquireMysql(
    id: IdempotencyRecordId,
    request: IdempotencyAcquireRequest,
    leaseMs: number,
    ttlMs: number,
  ): Promise<IdempotencyAcquireResult | undefined> {
    const upsert = await this.query(this.sql().acquire, [
      ...this.idParams(id),
      this.param(request.fingerprint),
      this.param(request.token),
      leaseMs,
      ttlMs,
    ]);
    const outcome = Number((upsert.raw as { insertId?: number | string } | undefined)?.insertId ?? 0);
    if (outcome === 0 || outcome === MYSQL_REPLACED_EXPIRED) return { state: 'acquired', takenOver: false };
    if (outcome === MYSQL_TOOK_OVER) return { state: 'acquired', takenOver: true };
    if (outcome !== MYSQL_LOST) throw new Error(`TypeOrmIdempotencyStore: unexpected MySQL upsert outcome ${outcome}`);
    return this.readExisting(id, request.fingerprint);
  }

  /**
   * Reports the row an upsert lost to, read by a second statement: the decision is already made, this only says
   * what won. Should the row have changed since so that it no longer blocks this request (released, expired, its
   * lease run out), blockingResult says so and acquire decides again.
   */
  private async readExisting(id: IdempotencyRecordId, fingerprint: string): Promise<IdempotencyAcquireResult | undefined> {
    const { records } = await this.query(this.sql().readExisting, this.idParams(id));
    const row = records[0] as Record<string, unknown> | undefined;
    return blockingResult(
      row && {
        fingerprint: utf8(row.fingerprint),
        response: row.response == null ? null : utf8(row.response),
        leaseLeftMs: Number(row.lease_left),
        ttlLeftMs: Number(row.ttl_left),
      },
      fingerprint,
    );
  }

  /**
   * better-sqlite3 is synchronous, so the read, the guarded upsert and the decision run in one IMMEDIATE
   * transaction without yielding to the event loop: nothing interleaves, in this process or another one.
   * (Through TypeORM's async query runner, another acquire could run between two statements.)
   */
  private acquireSqlite(
    id: IdempotencyRecordId,
    request: IdempotencyAcquireRequest,
    leaseMs: number,
    ttlMs: number,
  ): IdempotencyAcquireResult | undefined {
    const db = (this.dataSource.driver as unknown as { databaseConnection: SqliteDatabase }).databaseConnection;
    const statements = this.sql();
    return db
      .transaction(() => {
        const row = db.prepare(statements.sqliteRead).get(id.namespace, id.scope, id.key) as {
          now: number;
          fingerprint: string | null;
          response: string | null;
          lease_until: number | null;
          expires_at: number | null;
        };
        const now = Number(row.now);
        const prev = existingRecord(row, now);
        const { changes } = db
          .prepare(statements.acquire)
          .run(id.namespace, id.scope, id.key, request.fingerprint, request.token, now + leaseMs, now + ttlMs, now, now);
        if (changes > 0) return { state: 'acquired' as const, takenOver: prev !== undefined && prev.ttlLeftMs > 0 };
        return blockingResult(prev, request.fingerprint);
      })
      .immediate();
  }

  private sweepInBackground(): void {
    // A sweep still draining a backlog is not joined by a second one; the next tick looks again.
    if (this.sweeping || !this.dataSource.isInitialized) return;
    this.sweeping = this.drainExpired().finally(() => {
      this.sweeping = undefined;
    });
  }

  private async drainExpired(): Promise<void> {
    try {
      // A backlog larger than a batch drains batch by batch, each one short statement.
      let deleted = this.sweepBatchSize;
      while (!this.stopped && deleted >= this.sweepBatchSize) deleted = await this.sweep();
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      this.logger.warn(`Sweeping expired idempotency records failed (next try in ${this.sweepIntervalMs} ms): ${reason}`);
    }
  }

  /** Runs one statement on a pooled connection, again when the database chose it as a deadlock victim. */
  private async query(sql: string, params: unknown[]): Promise<QueryResult> {
    for (let attempt = 1; ; attempt++) {
      const runner = this.dataSource.createQueryRunner();
      try {
        return await runner.query(sql, params, true);
      } catch (error) {
        if (attempt >= MAX_DEADLOCK_RETRIES || !isDeadlock(error)) throw error;
      } finally {
        await runner.release();
      }
    }
  }

  private idParams(id: IdempotencyRecordId): unknown[] {
    return [this.param(id.namespace), this.param(id.scope), this.param(id.key)];
  }

  /** MySQL gets strings as bytes, so the connection's character set never transcodes (or mangles) them. */
  private param(value: string): unknown {
    return this.dialect === 'mysql' ? Buffer.from(value, 'utf8') : value;
  }

  private sql(): Statements {
    this.statements ??= buildStatements(this.dialect, this.tablePath(), (name) => this.dataSource.driver.escape(name));
    return this.statements;
  }

  /** The table as TypeORM's own query runners (and so the migration) resolve it: schema/database included. */
  private tablePath(): string {
    const driver = this.dataSource.driver;
    const { database, schema, tableName } = driver.parseTableName(this.tableName);
    const qualifier = this.dialect === 'mysql' ? database : schema;
    return [qualifier, tableName]
      .filter((part): part is string => !!part)
      .map((part) => driver.escape(part))
      .join('.');
  }
}

function dialectOf(dataSource: DataSource): Dialect {
  const type = dataSource.options.type;
  switch (type) {
    case 'postgres':
      return 'postgres';
    case 'mysql':
    case 'mariadb':
      return 'mysql';
    case 'better-sqlite3':
      return 'sqlite';
    default:
      throw new Error(`TypeOrmIdempotencyStore supports postgres, mysql, mariadb and better-sqlite3 DataSources, not '${type}'`);
  }
}

function buildStatements(dialect: Dialect, table: string, escape: (name: string) => string): Statements {
  const now = DATABASE_NOW[dialect];
  const key = escape('key');
  const p = (n: number) => (dialect === 'postgres' ? `$${n}` : '?');
  const byId = (first: number) => `namespace = ${p(first)} AND scope = ${p(first + 1)} AND ${key} = ${p(first + 2)}`;
  const columns = `namespace, scope, ${key}, fingerprint, token, lease_until, expires_at, response`;

  const common = {
    readExisting:
      `SELECT fingerprint, ${dialect === 'mysql' ? 'CAST(response AS BINARY)' : 'response'} AS response, ` +
      `lease_until - ${now} AS lease_left, expires_at - ${now} AS ttl_left FROM ${table} WHERE ${byId(1)}`,
    sqliteRead: '',
    complete:
      `UPDATE ${table} SET response = ${p(1)}, token = NULL, expires_at = ${now} + ${p(2)} ` +
      `WHERE ${byId(3)} AND token = ${p(6)} AND response IS NULL AND expires_at > ${now}`,
    release: `DELETE FROM ${table} WHERE ${byId(1)} AND token = ${p(4)} AND response IS NULL AND expires_at > ${now}`,
  };

  switch (dialect) {
    case 'postgres':
      return {
        ...common,
        // One statement. `prev` locks the current row (FOR UPDATE waits for, then sees, a concurrent writer's
        // commit), so the insert's guard and the reported row are the same version; `won` says whether the insert
        // (or the guarded update of an expired / taken-over row) happened.
        acquire: `
          WITH clock AS (
            SELECT ${now} AS now
          ), prev AS (
            SELECT r.fingerprint, r.response, r.lease_until, r.expires_at
            FROM ${table} AS r
            WHERE r.namespace = $1::varchar AND r.scope = $2::varchar AND r.${key} = $3::varchar
            FOR UPDATE
          ), upsert AS (
            INSERT INTO ${table} AS r (${columns})
            SELECT $1::varchar, $2::varchar, $3::varchar, $4::varchar, $5::varchar,
                   clock.now + $6::bigint, clock.now + $7::bigint, NULL
            FROM clock LEFT JOIN prev ON true
            ON CONFLICT (namespace, scope, ${key}) DO UPDATE
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
        // SKIP LOCKED: concurrent sweepers take disjoint batches instead of queueing behind each other; the outer
        // expires_at test re-checks each row as it is deleted.
        sweep: `
          DELETE FROM ${table} AS r
          USING (
            SELECT namespace, scope, ${key} FROM ${table}
            WHERE expires_at <= ${now}
            LIMIT $1::int
            FOR UPDATE SKIP LOCKED
          ) AS expired
          WHERE r.namespace = expired.namespace AND r.scope = expired.scope AND r.${key} = expired.${key}
            AND r.expires_at <= ${now}`,
      };
    case 'mysql':
      return {
        ...common,
        // One statement decides under the primary key's row lock. MySQL evaluates the assignments left to right,
        // each seeing the columns already assigned, so the decision is taken once, in the first assignment, against
        // the old row, and handed to the others through LAST_INSERT_ID(); the same value reaches the client as the
        // OK packet's insert id (see MYSQL_*).
        acquire: `
          INSERT INTO ${table} (${columns})
          VALUES (?, ?, ?, ?, ?, ${now} + ?, ${now} + ?, NULL)
          ON DUPLICATE KEY UPDATE
            token = IF(LAST_INSERT_ID(CASE
                         WHEN expires_at <= ${now} THEN ${MYSQL_REPLACED_EXPIRED}
                         WHEN response IS NULL AND lease_until <= ${now} AND fingerprint = VALUES(fingerprint)
                           THEN ${MYSQL_TOOK_OVER}
                         ELSE ${MYSQL_LOST}
                       END) > ${MYSQL_LOST}, VALUES(token), token),
            fingerprint = IF(LAST_INSERT_ID() > ${MYSQL_LOST}, VALUES(fingerprint), fingerprint),
            response = IF(LAST_INSERT_ID() > ${MYSQL_LOST}, NULL, response),
            lease_until = IF(LAST_INSERT_ID() > ${MYSQL_LOST}, VALUES(lease_until), lease_until),
            expires_at = IF(LAST_INSERT_ID() > ${MYSQL_LOST}, VALUES(expires_at), expires_at)`,
        // Each row is locked and its WHERE re-evaluated on the latest version before it is deleted. ORDER BY makes
        // concurrent sweepers lock rows in one order, so they queue rather than deadlock; should one deadlock with
        // an acquire, query() runs it again.
        sweep: `DELETE FROM ${table} WHERE expires_at <= ${now} ORDER BY expires_at LIMIT ?`,
      };
    case 'sqlite':
      return {
        ...common,
        // Runs inside the transaction acquireSqlite opens, right after `sqliteRead`, with that read's "now" (the last
        // two parameters) so both statements agree on the time.
        acquire: `
          INSERT INTO ${table} AS r (${columns})
          VALUES (?, ?, ?, ?, ?, ?, ?, NULL)
          ON CONFLICT (namespace, scope, ${key}) DO UPDATE
          SET fingerprint = excluded.fingerprint, token = excluded.token, lease_until = excluded.lease_until,
              expires_at = excluded.expires_at, response = NULL
          WHERE r.expires_at <= ?
             OR (r.response IS NULL AND r.lease_until <= ? AND r.fingerprint = excluded.fingerprint)`,
        sqliteRead: `
          SELECT clock.now, r.fingerprint, r.response, r.lease_until, r.expires_at
          FROM (SELECT ${now} AS now) AS clock
          LEFT JOIN ${table} AS r ON r.namespace = ? AND r.scope = ? AND r.${key} = ?`,
        // DELETE … LIMIT needs a compile-time option; a rowid subquery does not. One statement, so atomic.
        sweep: `DELETE FROM ${table} WHERE rowid IN (SELECT rowid FROM ${table} WHERE expires_at <= ${now} LIMIT ?)`,
      };
  }
}

/**
 * What acquire reports for a row it did not win: undefined when that row no longer blocks this request (gone,
 * expired, or a lease this fingerprint may take over), so acquire decides again instead of reporting a stale state.
 */
function blockingResult(record: ExistingRecord | undefined, fingerprint: string): IdempotencyAcquireResult | undefined {
  if (!record || record.ttlLeftMs <= 0) return undefined;
  if (record.response != null) return { state: 'completed', fingerprint: record.fingerprint, response: record.response };
  if (record.leaseLeftMs <= 0 && record.fingerprint === fingerprint) return undefined;
  return { state: 'in_flight', fingerprint: record.fingerprint, retryAfterMs: Math.max(0, record.leaseLeftMs) };
}

/** Refuses values longer than their columns: a database could truncate them silently, and truncated ids collide. */
function checkLengths(values: Partial<Record<keyof typeof IDEMPOTENCY_RECORD_MAX_BYTES, string>>): void {
  for (const [column, value] of Object.entries(values) as [keyof typeof IDEMPOTENCY_RECORD_MAX_BYTES, string][]) {
    const max = IDEMPOTENCY_RECORD_MAX_BYTES[column];
    const bytes = Buffer.byteLength(value, 'utf8');
    if (bytes > max) {
      throw new RangeError(
        `TypeOrmIdempotencyStore: the ${column} is ${bytes} bytes long (UTF-8) but its column holds at most ${max}; ` +
          `refusing it rather than storing it truncated`,
      );
    }
  }
}

function idParts({ namespace, scope, key }: IdempotencyRecordId): IdempotencyRecordId {
  return { namespace, scope, key };
}

function durationMs(name: string, value: number): number {
  if (!Number.isFinite(value)) throw new RangeError(`TypeOrmIdempotencyStore: ${name} must be a finite number, got ${value}`);
  // The columns hold whole milliseconds; rounding up never shortens a lease.
  return Math.max(0, Math.ceil(value));
}

function utf8(value: unknown): string {
  return Buffer.isBuffer(value) ? value.toString('utf8') : String(value);
}

function isDeadlock(error: unknown): boolean {
  if (!(error instanceof QueryFailedError)) return false;
  const driverError = error.driverError as { code?: string; errno?: number };
  // PostgreSQL: deadlock_detected, serialization_failure. MySQL/MariaDB: ER_LOCK_DEADLOCK.
  return driverError.code === '40P01' || driverError.code === '40001' || driverError.errno === 1213;
}

/** The row a statement read (null columns when there was none), with its times left relative to `now`. */
function existingRecord(row: Record<string, unknown>, now: number): ExistingRecord | undefined {
  if (row.expires_at == null) return undefined;
  return {
    fingerprint: String(row.fingerprint),
    response: row.response == null ? null : String(row.response),
    leaseLeftMs: Number(row.lease_until) - now,
    ttlLeftMs: Number(row.expires_at) - now,
  };
}
