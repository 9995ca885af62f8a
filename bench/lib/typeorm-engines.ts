import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource, DataSourceOptions } from 'typeorm';
import { CreateIdempotencyRecords1764259200000 } from '@nest-idempotency/core/typeorm';

/** The engines the TypeORM store speaks, as `bench/typeorm-store-cpu.ts` names them. */
export type Engine = 'postgres' | 'mariadb' | 'sqlite';

export const ENGINES: readonly Engine[] = ['postgres', 'mariadb', 'sqlite'];

const POSTGRES_URL =
  process.env.BENCH_POSTGRES_URL ?? process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const MARIADB_URL = process.env.BENCH_MARIADB_URL ?? process.env.TEST_MARIADB_URL ?? 'mysql://root@127.0.0.1:3306/test';

/** An initialised DataSource on a place of its own (schema, database or file) holding the migrated records table. */
export interface EngineDatabase {
  dataSource: DataSource;
  /** Closes the DataSource and drops the place. */
  drop(): Promise<void>;
}

/**
 * Opens `engine` on a fresh schema (PostgreSQL), database (MariaDB) or file (SQLite, WAL as the bench apps run it),
 * with the pool size the bench apps use, and runs the library's migration on it.
 */
export async function openEngine(engine: Engine, poolSize: number): Promise<EngineDatabase> {
  const name = `bench_cpu_${randomBytes(5).toString('hex')}`;
  let options: DataSourceOptions;
  // Where the place is created and dropped from: the server's own database, not the place.
  let adminOptions: DataSourceOptions | undefined;
  let dropPlace: (admin: DataSource) => Promise<unknown>;
  switch (engine) {
    case 'postgres':
      adminOptions = { type: 'postgres', url: POSTGRES_URL };
      await withAdmin(adminOptions, (admin) => admin.query(`CREATE SCHEMA "${name}"`));
      options = { ...adminOptions, schema: name, poolSize };
      dropPlace = (admin) => admin.query(`DROP SCHEMA IF EXISTS "${name}" CASCADE`);
      break;
    case 'mariadb': {
      adminOptions = { type: 'mariadb', url: MARIADB_URL };
      await withAdmin(adminOptions, (admin) => admin.query(`CREATE DATABASE \`${name}\``));
      const url = new URL(MARIADB_URL);
      url.pathname = `/${name}`;
      options = { ...adminOptions, url: url.toString(), poolSize };
      dropPlace = (admin) => admin.query(`DROP DATABASE IF EXISTS \`${name}\``);
      break;
    }
    case 'sqlite': {
      const directory = mkdtempSync(join(tmpdir(), 'bench-cpu-sqlite-'));
      options = { type: 'better-sqlite3', database: join(directory, `${name}.sqlite`), enableWAL: true };
      dropPlace = async () => rmSync(directory, { recursive: true, force: true });
      break;
    }
  }
  const dataSource = new DataSource(options);
  await dataSource.initialize();
  const runner = dataSource.createQueryRunner();
  try {
    await new CreateIdempotencyRecords1764259200000().up(runner);
  } finally {
    await runner.release();
  }
  return {
    dataSource,
    async drop() {
      if (dataSource.isInitialized) await dataSource.destroy();
      if (adminOptions) await withAdmin(adminOptions, dropPlace);
      else await dropPlace(dataSource);
    },
  };
}

async function withAdmin(options: DataSourceOptions, work: (admin: DataSource) => Promise<unknown>): Promise<void> {
  const admin = new DataSource({ ...options, poolSize: 1 } as DataSourceOptions);
  await admin.initialize();
  try {
    await work(admin);
  } finally {
    await admin.destroy();
  }
}
