import mysql from 'mysql2/promise';
import { Client } from 'pg';

/** A transaction of an outside client (an operator's session, a stuck job) holding one row's lock. */
export interface HeldRowLock {
  /** Rolls the transaction back and closes the connection. */
  release(): Promise<void>;
}

/**
 * Opens its own connection to the app's database (`postgres://` or `mysql://`) and locks one customer's row with
 * `SELECT … FOR UPDATE` in a transaction left open until `release()`.
 */
export async function holdCustomerRowLock(databaseUrl: string, customerId: string): Promise<HeldRowLock> {
  if (databaseUrl.startsWith('postgres')) {
    const client = new Client({ connectionString: databaseUrl, connectionTimeoutMillis: 5_000 });
    await client.connect();
    await client.query('BEGIN');
    const { rowCount } = await client.query('SELECT id FROM customers WHERE id = $1 FOR UPDATE', [customerId]);
    if (rowCount !== 1) throw new Error(`customer ${customerId} not found to lock`);
    return {
      release: () =>
        client
          .query('ROLLBACK')
          .finally(() => client.end())
          .then(() => undefined),
    };
  }
  const connection = await mysql.createConnection({ uri: databaseUrl, connectTimeout: 5_000 });
  await connection.query('START TRANSACTION');
  const [rows] = await connection.query('SELECT id FROM customers WHERE id = ? FOR UPDATE', [customerId]);
  if ((rows as unknown[]).length !== 1) throw new Error(`customer ${customerId} not found to lock`);
  return {
    release: () =>
      connection
        .query('ROLLBACK')
        .finally(() => connection.end())
        .then(() => undefined),
  };
}
