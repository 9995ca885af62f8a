import type { PoolConnection } from 'mysql2';
import { DataSource } from 'typeorm';

/** What the MySQL dialect does with a pooled connection. */
export type MysqlConnection = Pick<PoolConnection, 'execute' | 'query' | 'release' | 'destroy'>;

type ConnectionCallback = (error: unknown, connection?: MysqlConnection) => void;

/** TypeORM's MySQL driver, as far as the dialect reaches into it. */
interface MysqlDriverLike {
  pool?: { getConnection(callback: ConnectionCallback): void };
  poolCluster?: { getConnection(pattern: string, callback: ConnectionCallback): void };
  prepareDbConnection(connection: MysqlConnection): MysqlConnection;
  obtainMasterConnection(): Promise<MysqlConnection>;
}

/**
 * Connections from the pool TypeORM opened, as its `obtainMasterConnection` gives them (the master of a replication
 * cluster included), but through mysql2's callback, as mysql2's own `pool.execute` takes them: a promise and an
 * array of listeners per statement cost CPU on every call. TypeORM's error listener, which keeps a connection that
 * fails while idle from crashing the process, is added to each connection once, as TypeORM does.
 */
export class MysqlConnections {
  private readonly prepared = new WeakSet<MysqlConnection>();

  constructor(private readonly dataSource: DataSource) {}

  /** Calls back with a connection, or with the error of a pool that could give none. */
  obtain(callback: ConnectionCallback): void {
    const driver = this.dataSource.driver as unknown as MysqlDriverLike;
    const obtained: ConnectionCallback = (error, connection) => {
      if (error || !connection) return callback(error ?? new Error('mysql2 gave no connection'));
      if (!this.prepared.has(connection)) {
        driver.prepareDbConnection(connection);
        this.prepared.add(connection);
      }
      callback(undefined, connection);
    };
    if (driver.poolCluster) driver.poolCluster.getConnection('MASTER', obtained);
    else if (driver.pool) driver.pool.getConnection(obtained);
    // Not connected: TypeORM's own error says so.
    else driver.obtainMasterConnection().then((connection) => obtained(undefined, connection), obtained);
  }
}
