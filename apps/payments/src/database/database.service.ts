import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { Mutex } from 'async-mutex';
import { DataSource, EntityManager } from 'typeorm';

/**
 * The one way services touch the database. On PostgreSQL and MySQL it is a plain transaction per unit of
 * work. SQLite (better-sqlite3) has a single connection that every caller shares, so a statement issued
 * while another request's transaction is open would silently join that transaction (and its rollback):
 * there, units of work, idempotency store calls included, take turns through one mutex.
 */
@Injectable()
export class DatabaseService {
  /** Shared with the idempotency store on SQLite; null elsewhere. */
  readonly sqliteMutex: Mutex | null;

  constructor(@InjectDataSource() readonly dataSource: DataSource) {
    this.sqliteMutex = dataSource.options.type === 'better-sqlite3' ? new Mutex() : null;
  }

  /** Runs `work` in one transaction: all of it commits, or none of it. */
  transaction<T>(work: (manager: EntityManager) => Promise<T>): Promise<T> {
    return this.exclusive(() => this.dataSource.transaction(work));
  }

  /** Runs reads that must not see another request's uncommitted writes. */
  read<T>(work: (manager: EntityManager) => Promise<T>): Promise<T> {
    return this.exclusive(() => work(this.dataSource.manager));
  }

  private exclusive<T>(work: () => Promise<T>): Promise<T> {
    return this.sqliteMutex ? this.sqliteMutex.runExclusive(work) : work();
  }
}
