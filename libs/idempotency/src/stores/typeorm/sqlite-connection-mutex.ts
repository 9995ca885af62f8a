import { Mutex } from 'async-mutex';
import { AsyncLocalStorage } from 'node:async_hooks';
import { DataSource } from 'typeorm';

/** The turn a unit of work holds on one SQLite connection; `held` turns false when the unit ends. */
interface Turn {
  held: boolean;
}

interface SqliteConnection {
  mutex: Mutex;
  /** The turn of the unit of work running in this async context, if it took one. */
  turns: AsyncLocalStorage<Turn>;
}

const connections = new WeakMap<DataSource, SqliteConnection>();

function sqliteConnection(dataSource: DataSource): SqliteConnection | undefined {
  if (dataSource.options.type !== 'better-sqlite3') return undefined;
  let connection = connections.get(dataSource);
  if (!connection) connections.set(dataSource, (connection = { mutex: new Mutex(), turns: new AsyncLocalStorage() }));
  return connection;
}

/**
 * SQLite through TypeORM (better-sqlite3) has one connection per DataSource, shared by every caller: a
 * statement issued while another request's transaction is open silently joins that transaction, and its
 * rollback. Units of work on such a DataSource must take turns; this is the one mutex per DataSource they
 * share (the store's transactions, and the application's own, if it writes outside transactional idempotent
 * routes). The store's single calls are synchronous: they run at once while nobody holds it and no transaction
 * is open, and take their turn otherwise. Undefined for databases with real connection pools.
 *
 * With `@nestjs-cls/transactional`, `takeTurnsOnSqlite` takes it for every transaction; otherwise wrap each unit
 * of work in `runExclusive` (not inside a transactional idempotent request, which holds it already).
 */
export function sqliteConnectionMutex(dataSource: DataSource): Mutex | undefined {
  return sqliteConnection(dataSource)?.mutex;
}

/**
 * Runs `work` in its turn on `dataSource`'s one SQLite connection, at once on any other database. Work that runs
 * inside a turn already (the transactional mode's request opening its transaction through a `TransactionHost`
 * whose adapter takes turns too) keeps that turn: waiting for it would wait for itself.
 */
export function runInSqliteTurn<T>(dataSource: DataSource, work: () => Promise<T>): Promise<T> {
  const connection = sqliteConnection(dataSource);
  if (!connection || connection.turns.getStore()?.held) return work();
  return connection.mutex.runExclusive(() => {
    // Work this unit leaves running when it ends (a promise nobody awaits) must take a turn of its own.
    const turn: Turn = { held: true };
    return connection.turns.run(turn, work).finally(() => (turn.held = false));
  });
}
