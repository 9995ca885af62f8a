import { Logger } from '@nestjs/common';
import mysql2, { Pool, PoolConnection, PoolOptions } from 'mysql2';
import { DatabaseTimeouts } from './database-timeouts';

type GetConnectionCallback = (error: NodeJS.ErrnoException | null, connection?: PoolConnection) => void;

/**
 * mysql2 as TypeORM's `driver` option, with every pool bounded: each new connection first sets its session's lock
 * wait and statement bounds, and a wait for a pooled connection fails (code `POOL_WAIT_TIMEOUT`) after
 * `poolWaitMs`. mysql2 has neither an init statement nor a pool acquire timeout, and TypeORM opens the pool's
 * first connection before it hands the pool out, so the pool is wrapped where it is made.
 */
export function boundedMysql2(timeouts: DatabaseTimeouts): typeof mysql2 {
  const logger = new Logger('Database');
  // InnoDB counts its lock wait in whole seconds. `/*M! … */` runs on MariaDB only: MySQL has no
  // max_statement_time (its statements are bounded by the client-side query timeout instead).
  const sessionBounds =
    `SET SESSION innodb_lock_wait_timeout = ${Math.max(1, Math.ceil(timeouts.lockWaitMs / 1000))} ` +
    `/*M!100300 , max_statement_time = ${timeouts.statementMs / 1000}, ` +
    `idle_transaction_timeout = ${Math.ceil(timeouts.idleInTransactionMs / 1000)} */`;

  const createPool = (options: PoolOptions): Pool => {
    const pool = mysql2.createPool(options);
    // Emitted before the connection reaches its first user, so the SET is the first command it runs.
    pool.on('connection', (connection) => {
      connection.query(sessionBounds, (error) => {
        if (error) logger.warn(`Could not set the session's lock and statement bounds: ${error.message}`);
      });
    });
    const getConnection = pool.getConnection.bind(pool) as (callback: GetConnectionCallback) => void;
    (pool as unknown as { getConnection: (callback: GetConnectionCallback) => void }).getConnection = (callback) => {
      let answered = false;
      const timer = setTimeout(() => {
        answered = true;
        const error: NodeJS.ErrnoException = new Error(
          `No database connection became free within ${timeouts.poolWaitMs} ms`,
        );
        error.code = 'POOL_WAIT_TIMEOUT';
        callback(error);
      }, timeouts.poolWaitMs);
      getConnection((error, connection) => {
        clearTimeout(timer);
        // The caller already got its 503: the connection goes back to the pool for the next one.
        if (answered) return connection?.release();
        answered = true;
        callback(error, connection);
      });
    };
    return pool;
  };
  return { ...mysql2, createPool } as typeof mysql2;
}
