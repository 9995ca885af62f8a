import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { IdempotencyTransaction, sqliteConnectionMutex } from '@app/idempotency/typeorm';

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
export class DatabaseService {
  constructor(
    @InjectDataSource() readonly dataSource: DataSource,
    private readonly idempotencyTransaction: IdempotencyTransaction,
  ) {}

  /** Runs `work` in one transaction: all of it commits, or none of it. */
  transaction<T>(work: (manager: EntityManager) => Promise<T>): Promise<T> {
    const ambient = this.idempotencyTransaction.managerFor(this.dataSource);
    // The request's transaction already holds the SQLite mutex: taking it again would wait for ourselves.
    if (ambient) return work(ambient);
    return this.exclusive(() => this.dataSource.transaction(work));
  }

  /** Runs reads that must not see another request's uncommitted writes. */
  read<T>(work: (manager: EntityManager) => Promise<T>): Promise<T> {
    const ambient = this.idempotencyTransaction.managerFor(this.dataSource);
    if (ambient) return work(ambient);
    return this.exclusive(() => work(this.dataSource.manager));
  }

  private exclusive<T>(work: () => Promise<T>): Promise<T> {
    const mutex = sqliteConnectionMutex(this.dataSource);
    return mutex ? mutex.runExclusive(work) : work();
  }
}
