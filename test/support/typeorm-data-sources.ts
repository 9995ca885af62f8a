import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import { Client } from 'pg';
import { DataSource, DataSourceOptions } from 'typeorm';
import { TEST_SERVICES } from './services';

/** The databases the TypeORM suites run on. */
export type SqlDialect = 'postgres' | 'mariadb' | 'sqlite';

/** Where one suite's tables live, and how to open DataSources on it. */
export interface IsolatedDatabase {
  /** DataSource options on the isolated place, e.g. for `TypeOrmModule.forRoot()`. */
  options: DataSourceOptions;
  /** Opens (and initialises) one more DataSource on the same place, as a second app instance would. */
  connect(extra?: Partial<DataSourceOptions>): Promise<DataSource>;
  /** Destroys every DataSource `connect` opened, then drops the place. */
  drop(): Promise<void>;
}

/**
 * A fresh schema (PostgreSQL), database (MariaDB) or temporary file (SQLite) per suite, so runs never meet each
 * other's tables, nor those of other suites sharing the servers. Pools hold 20 connections so that concurrent
 * calls really run concurrently.
 */
export async function createIsolatedDatabase(dialect: SqlDialect): Promise<IsolatedDatabase> {
  const name = `idem_${randomBytes(6).toString('hex')}`;
  let options: DataSourceOptions;
  let dropPlace: () => Promise<void>;
  switch (dialect) {
    case 'postgres': {
      await withPostgres((client) => client.query(`CREATE SCHEMA "${name}"`));
      options = { type: 'postgres', url: TEST_SERVICES.postgres, schema: name, poolSize: 20 };
      dropPlace = () => withPostgres((client) => client.query(`DROP SCHEMA IF EXISTS "${name}" CASCADE`));
      break;
    }
    case 'mariadb': {
      await withMariadb((connection) => connection.query(`CREATE DATABASE \`${name}\``));
      const url = new URL(TEST_SERVICES.mariadb);
      url.pathname = `/${name}`;
      options = { type: 'mariadb', url: url.toString(), poolSize: 20 };
      dropPlace = () => withMariadb((connection) => connection.query(`DROP DATABASE IF EXISTS \`${name}\``));
      break;
    }
    case 'sqlite': {
      const directory = mkdtempSync(join(tmpdir(), 'idempotency-sqlite-'));
      options = { type: 'better-sqlite3', database: join(directory, `${name}.sqlite`), enableWAL: true };
      dropPlace = async () => rmSync(directory, { recursive: true, force: true });
      break;
    }
  }
  const opened: DataSource[] = [];
  return {
    options,
    async connect(extra = {}) {
      const dataSource = new DataSource({ ...options, ...extra } as DataSourceOptions);
      await dataSource.initialize();
      opened.push(dataSource);
      return dataSource;
    },
    async drop() {
      await Promise.all(
        opened.filter((dataSource) => dataSource.isInitialized).map((dataSource) => dataSource.destroy()),
      );
      await dropPlace();
    },
  };
}

async function withPostgres(work: (client: Client) => Promise<unknown>): Promise<void> {
  const client = new Client({ connectionString: TEST_SERVICES.postgres });
  await client.connect();
  try {
    await work(client);
  } finally {
    await client.end();
  }
}

async function withMariadb(work: (connection: mysql.Connection) => Promise<unknown>): Promise<void> {
  const connection = await mysql.createConnection({ uri: TEST_SERVICES.mariadb });
  try {
    await work(connection);
  } finally {
    await connection.end();
  }
}
