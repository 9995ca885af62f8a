import { Logger } from '@nestjs/common';
import { DataSource, EntityManager, QueryRunnerAlreadyReleasedError } from 'typeorm';
import {
  IdempotencyAcquireRequest,
  IdempotencyAcquireResult,
  IdempotencyForgetResult,
  IdempotencyRecordId,
  IdempotencyRecordSnapshot,
  IdempotencyStore,
  IdempotencyStoreTransaction,
  TransactionalIdempotencyStore,
} from '../idempotency-store';
import { IDEMPOTENCY_RECORDS_TABLE } from './idempotency-record.entity';
import { idempotencyTransactions } from './idempotency-transaction';
import { checkLength, durationMs } from './record-rows';
import { AcquireAttempt, Answer, SqlDialect, StoreCall } from './sql-dialect';
import { checkRecordsTable } from './records-table-check';
import { sqlDialectFor } from './sql-dialects';
import { IdempotencyTransactionHost } from './transaction-host';
import { ExpirySweeper } from './expiry-sweeper';
import { boundedCall } from './bounded-call';
import { declareStoreKind } from '../store-kind';
import { isPromise } from '../../util/is-promise';

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
  /**
   * For teams on `@nestjs-cls/transactional` with its TypeORM adapter: the `TransactionHost`. The transactional
   * mode then opens the request's transaction through it, so the idempotency record completes in the transaction
   * that `TransactionHost.tx` and `@Transactional()` services already use, with no idempotency-specific code in
   * them. Without it, the store opens the transaction on its DataSource itself.
   */
  transactionHost?: IdempotencyTransactionHost;
}

// The record can change between the statement that decides and the read that reports (a release, a sweep);
// acquire then starts over. Needing this many rounds means something rewrites the record in a tight loop.
const MAX_ACQUIRE_ROUNDS = 10;

const SIMPLE_TABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$/;

/**
 * The SQL store: records live in a table of the application's own database (PostgreSQL, MySQL/MariaDB or SQLite
 * through better-sqlite3), so every instance sharing that database shares them. Create the table with the
 * `CreateIdempotencyRecords1764259200000` migration.
 *
 * With `@nestjs/typeorm`, build it on the DataSource `TypeOrmModule.forRoot()` registers (the one
 * `@InjectDataSource()` injects); `IdempotencyModule` starts it (table check, sweeper) and closes it, whether it
 * is the module's store or a route's:
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
export class TypeOrmIdempotencyStore extends IdempotencyStore implements TransactionalIdempotencyStore {
  private readonly logger = new Logger(TypeOrmIdempotencyStore.name);
  private readonly dialect: SqlDialect;
  private readonly tableName: string;
  private readonly transactionHost?: IdempotencyTransactionHost;
  private readonly sweepBatchSize: number;
  private readonly callTimeout: number;
  private readonly sweeper: ExpirySweeper;

  constructor(
    private readonly dataSource: DataSource,
    options: TypeOrmIdempotencyStoreOptions = {},
  ) {
    super();
    const tableName = options.tableName ?? IDEMPOTENCY_RECORDS_TABLE;
    this.tableName = tableName;
    this.transactionHost = options.transactionHost;
    this.dialect = sqlDialectFor(dataSource, tableName);
    const sweepIntervalMs = options.sweepIntervalMs ?? 60_000;
    this.sweepBatchSize = options.sweepBatchSize ?? 1000;
    this.callTimeout = options.callTimeout ?? 5000;
    if (!SIMPLE_TABLE_NAME.test(tableName)) {
      throw new Error(
        `TypeOrmIdempotencyStore: tableName must be an identifier or schema.identifier, got '${tableName}'`,
      );
    }
    if (!Number.isSafeInteger(sweepIntervalMs) || sweepIntervalMs < 0) {
      throw new Error(
        `TypeOrmIdempotencyStore: sweepIntervalMs must be a non-negative integer, got ${options.sweepIntervalMs}`,
      );
    }
    if (!Number.isSafeInteger(this.sweepBatchSize) || this.sweepBatchSize < 1) {
      throw new Error(
        `TypeOrmIdempotencyStore: sweepBatchSize must be a positive integer, got ${options.sweepBatchSize}`,
      );
    }
    if (!Number.isSafeInteger(this.callTimeout) || this.callTimeout <= 0) {
      throw new Error(
        `TypeOrmIdempotencyStore: callTimeout must be a positive whole number, got ${options.callTimeout}`,
      );
    }
    this.sweeper = new ExpirySweeper(
      () => this.sweep(),
      this.sweepBatchSize,
      sweepIntervalMs,
      () => dataSource.isInitialized,
      this.logger,
    );
  }

  acquire(id: IdempotencyRecordId, request: IdempotencyAcquireRequest): Promise<IdempotencyAcquireResult> {
    let attempt: AcquireAttempt;
    try {
      checkRecordId(id);
      checkLength('fingerprint', request.fingerprint);
      checkLength('token', request.token);
      attempt = {
        fingerprint: request.fingerprint,
        token: request.token,
        leaseMs: durationMs('leaseMs', request.leaseMs),
        ttlMs: durationMs('ttlMs', request.ttlMs),
        durableWithWork: request.durableWithWork === true,
      };
    } catch (error) {
      return Promise.reject(error);
    }
    return this.bounded('acquire', (call) => this.decide(id, attempt, call, 1));
  }

  complete(id: IdempotencyRecordId, token: string, response: string, ttlMs: number): Promise<boolean> {
    return this.bounded('complete', (call) => {
      checkRecordId(id);
      checkLength('token', token);
      return this.dialect.complete(id, token, response, durationMs('ttlMs', ttlMs), call);
    });
  }

  release(id: IdempotencyRecordId, token: string): Promise<boolean> {
    return this.bounded('release', (call) => {
      checkRecordId(id);
      checkLength('token', token);
      return this.dialect.release(id, token, call);
    });
  }

  inspect(id: IdempotencyRecordId): Promise<IdempotencyRecordSnapshot | undefined> {
    return this.bounded('inspect', (call) => {
      checkRecordId(id);
      return this.dialect.inspect(id, call);
    });
  }

  forget(id: IdempotencyRecordId, options: { force: boolean }): Promise<IdempotencyForgetResult> {
    return this.bounded('forget', (call) => {
      checkRecordId(id);
      return this.dialect.forget(id, options.force === true, call);
    });
  }

  /**
   * Deletes up to `sweepBatchSize` expired records in one statement and resolves how many it deleted. Safe while
   * other instances sweep and acquire: a row is deleted only if it is still expired when the delete reaches it.
   */
  sweep(): Promise<number> {
    return this.bounded('sweep', (call) => this.dialect.sweep(this.sweepBatchSize, call));
  }

  /**
   * The transactional mode: runs `work` in one transaction on this store's DataSource. While it runs,
   * `IdempotencyTransaction.manager` is the transaction's EntityManager, so the handler's writes and the
   * record's completion commit together.
   */
  runInTransaction<T>(work: (transaction: IdempotencyStoreTransaction) => Promise<T>): Promise<T> {
    const inManager = (manager: EntityManager) =>
      idempotencyTransactions.run(manager, () =>
        work({ complete: (id, token, response, ttlMs) => this.completeIn(manager, id, token, response, ttlMs) }),
      );
    const host = this.transactionHost;
    const transaction = host
      ? () => host.withTransaction(() => inManager(this.managerOf(host)))
      : () => this.dataSource.transaction(inManager);
    return this.dialect.exclusive ? this.dialect.exclusive(transaction) : transaction();
  }

  /** The host's transaction, which must run on this store's DataSource, or record and writes would commit apart. */
  private managerOf(host: IdempotencyTransactionHost): EntityManager {
    const manager = host.tx;
    if (manager.connection !== this.dataSource || !manager.queryRunner?.isTransactionActive) {
      throw new Error(
        "TypeOrmIdempotencyStore: the transactionHost gave no transaction on this store's DataSource; build the store on " +
          'the DataSource the TransactionalAdapterTypeOrm uses',
      );
    }
    return manager;
  }

  sharesConnectionWith(connection: unknown): boolean {
    return connection === this.dataSource;
  }

  /**
   * Refuses to start without the records table (see `checkRecordsTable`), then starts the sweeper (unless
   * `sweepIntervalMs` is 0); its timer never keeps the process alive. `IdempotencyModule` calls it at start-up.
   */
  async start(): Promise<void> {
    if (this.dataSource.isInitialized && !(await checkRecordsTable(this.dataSource, this.tableName))) {
      this.logger.warn(`Could not check that the table '${this.tableName}' exists: the database did not answer`);
    }
    this.sweeper.start();
  }

  /**
   * Stops the sweeper and waits for a running sweep, before TypeORM closes the DataSource under it (its module shuts
   * down after `IdempotencyModule`). The DataSource is its owner's: it stays open.
   */
  close(): Promise<void> {
    return this.sweeper.stop();
  }

  private async completeIn(
    manager: EntityManager,
    id: IdempotencyRecordId,
    token: string,
    response: string,
    ttlMs: number,
  ): Promise<boolean> {
    checkRecordId(id);
    checkLength('token', token);
    const runner = manager.queryRunner!;
    // A runner whose connection was lost has gone back to the pool: its connection may serve someone else by now,
    // and the record must not commit outside the handler's transaction.
    if (runner.isReleased) throw new QueryRunnerAlreadyReleasedError();
    return this.dialect.completeIn(runner, id, token, response, durationMs('ttlMs', ttlMs));
  }

  /** One acquire decision, and another while the record keeps changing under them (see MAX_ACQUIRE_ROUNDS). */
  private decide(
    id: IdempotencyRecordId,
    attempt: AcquireAttempt,
    call: StoreCall,
    round: number,
  ): Answer<IdempotencyAcquireResult> {
    const again = (result: IdempotencyAcquireResult | undefined): Answer<IdempotencyAcquireResult> => {
      if (result) return result;
      if (round >= MAX_ACQUIRE_ROUNDS) {
        throw new Error(
          `TypeOrmIdempotencyStore: the record changed under every one of ${MAX_ACQUIRE_ROUNDS} acquire attempts; giving up`,
        );
      }
      return this.decide(id, attempt, call, round + 1);
    };
    const answer = this.dialect.acquire(id, attempt, call);
    return isPromise(answer) ? answer.then(again) : again(answer);
  }

  private bounded<T>(operation: string, work: (call: StoreCall) => Answer<T>): Promise<T> {
    return boundedCall(this.dialect, operation, this.callTimeout, work);
  }
}

function checkRecordId(id: IdempotencyRecordId): void {
  checkLength('namespace', id.namespace);
  checkLength('scope', id.scope);
  checkLength('key', id.key);
}

declareStoreKind(TypeOrmIdempotencyStore, 'typeorm');
