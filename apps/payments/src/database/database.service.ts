import { Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { Mutex } from 'async-mutex';
import { DataSource, EntityManager, EntityTarget, FindOptionsWhere, ObjectLiteral } from 'typeorm';
import { IdempotencyTransaction, sqliteConnectionMutex } from '@nest-idempotency/core/typeorm';

/**
 * The one way services touch the database. On PostgreSQL and MySQL it is a plain transaction per unit of
 * work. SQLite (better-sqlite3) has a single connection that every caller shares, so a statement issued
 * while another request's transaction is open would silently join that transaction (and its rollback):
 * there, units of work take turns through the mutex the idempotency store uses for its own calls.
 *
 * Inside a transactional idempotent request (TypeORM store) the unit of work joins the request's transaction,
 * so the payment and its idempotency record commit together.
 */
@Injectable()
export class DatabaseService implements OnApplicationBootstrap {
  private readonly logger = new Logger('Database');
  /** The SQLite connection's mutex, shared with the idempotency store; undefined on pooled databases. */
  private readonly sqliteMutex: Mutex | undefined;

  constructor(
    @InjectDataSource() readonly dataSource: DataSource,
    private readonly idempotencyTransaction: IdempotencyTransaction,
  ) {
    this.sqliteMutex = sqliteConnectionMutex(dataSource);
  }

  /**
   * pg-pool drops its own 'error' listener when it hands a new client out, and TypeORM attaches one a tick
   * later: a server that ends the connection in that gap (pg_terminate_backend, a failover) would crash the
   * process with an unhandled 'error'. Every pooled client gets a permanent listener here instead; the
   * failed query itself still rejects, and the pool replaces the connection.
   */
  onApplicationBootstrap(): void {
    const pool = (
      this.dataSource.driver as {
        master?: { on(event: 'connect', listener: (client: NodeJS.EventEmitter) => void): void };
      }
    ).master;
    if (this.dataSource.options.type !== 'postgres' || !pool) return;
    pool.on('connect', (client) =>
      client.on('error', (error: Error) => this.logger.warn(`PostgreSQL connection lost: ${error.message}`)),
    );
  }

  /**
   * Runs `work` in one transaction: all of it commits, or none of it. Inside the request's transaction it is
   * a savepoint, so a unit that fails (a unique violation, say) takes its writes back and leaves the request's
   * transaction usable (PostgreSQL would otherwise refuse every later statement of it).
   */
  transaction<T>(work: (manager: EntityManager) => Promise<T>): Promise<T> {
    const ambient = this.idempotencyTransaction.managerFor(this.dataSource);
    // The request's transaction already holds the SQLite mutex: taking it again would wait for ourselves.
    if (ambient) return ambient.transaction(work);
    return this.exclusive(() => this.dataSource.transaction(work));
  }

  /**
   * Runs `work` in one transaction, like `transaction`, for work that never goes on after one of its own
   * statements failed. Inside the request's transaction it runs there directly, without a savepoint (two round
   * trips fewer): any failure it throws fails the request, and the request's whole transaction rolls back.
   */
  transactionWithoutRecovery<T>(work: (manager: EntityManager) => Promise<T>): Promise<T> {
    const ambient = this.idempotencyTransaction.managerFor(this.dataSource);
    if (ambient) return work(ambient);
    return this.exclusive(() => this.dataSource.transaction(work));
  }

  /**
   * The committed row matching `where`: the winner of a race decided by a unique index. A locking read on
   * MySQL/MariaDB, where a plain one inside an older REPEATABLE READ transaction would not see the winner.
   */
  winner<T extends ObjectLiteral>(entity: EntityTarget<T>, where: FindOptionsWhere<T>): Promise<T | null> {
    return this.transaction((manager) => this.latest(manager, entity, where));
  }

  /** The row matching `where` as last committed (or written by this transaction), read through `manager`. */
  latest<T extends ObjectLiteral>(
    manager: EntityManager,
    entity: EntityTarget<T>,
    where: FindOptionsWhere<T>,
  ): Promise<T | null> {
    const type = this.dataSource.options.type;
    const lock = type === 'mysql' || type === 'mariadb' ? { lock: { mode: 'pessimistic_read' as const } } : {};
    return manager.findOne(entity, { where, ...lock });
  }

  /** Runs reads that must not see another request's uncommitted writes. */
  read<T>(work: (manager: EntityManager) => Promise<T>): Promise<T> {
    const ambient = this.idempotencyTransaction.managerFor(this.dataSource);
    if (ambient) return work(ambient);
    return this.exclusive(() => work(this.dataSource.manager));
  }

  private exclusive<T>(work: () => Promise<T>): Promise<T> {
    return this.sqliteMutex ? this.sqliteMutex.runExclusive(work) : work();
  }
}
