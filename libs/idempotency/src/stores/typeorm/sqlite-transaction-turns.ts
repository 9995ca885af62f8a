import type { DataSource, EntityManager } from 'typeorm';
import { runInSqliteTurn, sqliteConnectionMutex } from './sqlite-connection-mutex';

/**
 * What `takeTurnsOnSqlite` needs of a `@nestjs-cls/transactional` adapter for TypeORM
 * (`TransactionalAdapterTypeOrm` fits as it is). Typed by shape, so the library does not load that package, an
 * optional peer, for apps that do not use it.
 */
export interface TypeOrmTransactionalAdapterLike {
  optionsFactory(connection: DataSource, extraProviders: any[]): TypeOrmTransactionalAdapterOptionsLike;
}

/** What such an adapter's `optionsFactory` gives the plugin: how to open a transaction, and what `tx` is outside one. */
export interface TypeOrmTransactionalAdapterOptionsLike {
  wrapWithTransaction(
    options: unknown,
    fn: (...args: any[]) => Promise<any>,
    setTx: (tx?: EntityManager) => void,
  ): Promise<any>;
  getFallbackInstance(): EntityManager;
}

/**
 * Wraps the TypeORM adapter of `@nestjs-cls/transactional` so that, on SQLite (better-sqlite3), every transaction
 * it opens waits for its turn on the DataSource's one connection (`sqliteConnectionMutex`), the turn the
 * idempotency store's own calls and its transactional mode take too: two requests' transactions never interleave
 * on it, and an `@Idempotent({ transactional: true })` request's `@Transactional()` services join its transaction
 * without waiting for themselves. On every other database the adapter is given back unchanged in behaviour.
 *
 * ```ts
 * adapter: takeTurnsOnSqlite(new TransactionalAdapterTypeOrm({ dataSourceToken: getDataSourceToken() })),
 * ```
 *
 * Only transactions take turns: on SQLite, a statement run through `TransactionHost.tx` outside any transaction
 * joins whatever transaction is open at that moment, so run reads that must see committed data only, and every
 * write, in a `@Transactional()` method.
 */
export function takeTurnsOnSqlite<TAdapter extends TypeOrmTransactionalAdapterLike>(adapter: TAdapter): TAdapter {
  const optionsFactory = (connection: DataSource, extraProviders: any[]): TypeOrmTransactionalAdapterOptionsLike => {
    const options = adapter.optionsFactory(connection, extraProviders);
    if (!sqliteConnectionMutex(connection)) return options;
    return {
      ...options,
      wrapWithTransaction: (txOptions, fn, setTx) =>
        runInSqliteTurn(connection, () => options.wrapWithTransaction(txOptions, fn, setTx)),
    };
  };
  // Everything else (the connection token, default options, lifecycle hooks) is the adapter's own.
  return Object.create(adapter, { optionsFactory: { value: optionsFactory, enumerable: true } }) as TAdapter;
}
