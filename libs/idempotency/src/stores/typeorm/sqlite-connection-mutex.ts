import { Mutex } from 'async-mutex';
import { DataSource } from 'typeorm';

const mutexes = new WeakMap<DataSource, Mutex>();

/**
 * SQLite through TypeORM (better-sqlite3) has one connection per DataSource, shared by every caller: a
 * statement issued while another request's transaction is open silently joins that transaction, and its
 * rollback. Units of work on such a DataSource must take turns; this is the one mutex per DataSource they
 * share (the store's transactions, and the application's own, if it writes outside transactional idempotent
 * routes). The store's single calls are synchronous: they run at once while nobody holds it and no transaction
 * is open, and take their turn otherwise. Undefined for databases with real connection pools.
 */
export function sqliteConnectionMutex(dataSource: DataSource): Mutex | undefined {
  if (dataSource.options.type !== 'better-sqlite3') return undefined;
  let mutex = mutexes.get(dataSource);
  if (!mutex) mutexes.set(dataSource, (mutex = new Mutex()));
  return mutex;
}
