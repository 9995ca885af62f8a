import mysql from 'mysql2/promise';

/**
 * Which TypeORM driver type fits the server at `url`: 'mariadb' for MariaDB, else 'mysql'. It matters to
 * the schema reader behind `migration:generate`: under 'mysql' it reads MariaDB's default of a nullable
 * column as the string 'NULL' and reports a change that is none. A server that does not answer is 'mysql',
 * and connecting then fails (and is retried) where it would have anyway.
 */
export async function mysqlServerType(url: string): Promise<'mysql' | 'mariadb'> {
  let connection: mysql.Connection | undefined;
  try {
    connection = await mysql.createConnection({ uri: url, connectTimeout: 5_000 });
    const [rows] = await connection.query<mysql.RowDataPacket[]>('SELECT VERSION() AS version');
    return /mariadb/i.test(String(rows[0]?.version)) ? 'mariadb' : 'mysql';
  } catch {
    return 'mysql';
  } finally {
    await connection?.end().catch(() => undefined);
  }
}
