import type { Database } from 'better-sqlite3';
import type { Pool as MysqlPool, ResultSetHeader, RowDataPacket } from 'mysql2';
import type { Pool as PgPool, QueryConfig } from 'pg';
import { DataSource } from 'typeorm';
import { buildStatements as mysqlStatements, LOST } from '@nest-idempotency/core/stores/typeorm/mysql.statements';
import { buildStatements as postgresStatements } from '@nest-idempotency/core/stores/typeorm/postgres.statements';
import { buildStatements as sqliteStatements } from '@nest-idempotency/core/stores/typeorm/sqlite.statements';
import { qualifiedTable } from '@nest-idempotency/core/stores/typeorm/sql-dialect';
import { IDEMPOTENCY_RECORDS_TABLE } from '@nest-idempotency/core/typeorm';
import type { Engine } from './typeorm-engines';

/** One guarded request's statements, as `bench/typeorm-store-cpu.ts` drives them: n is the request's number. */
export interface Requests {
  /** A fresh key: acquire, then complete. */
  fresh(n: number): Promise<void>;
  /** The key of a completed record (`seedKey`): acquire, which answers with the stored response. */
  replay(n: number): Promise<void>;
}

/** What every request sends: the store's bench keys and values. */
export const REQUEST = {
  namespace: 'bench',
  scope: 'cpu',
  fingerprint: 'f'.repeat(64),
  leaseMs: 30_000,
  ttlMs: 86_400_000,
  response: '{"status":201,"headers":{"content-type":"application/json"},"body":{"id":1,"status":"succeeded"}}',
} as const;

/** How many completed records the replays cycle through; `seedKey(i)` names them. */
export const SEEDED_KEYS = 256;
export const seedKey = (n: number) => `seed-${n % SEEDED_KEYS}`;

/**
 * The floor: the store's very statements, written by hand on the bare driver under the same DataSource, with no
 * library between the caller and the driver: what a team would write without `TypeOrmIdempotencyStore`.
 */
export function bareRequests(engine: Engine, dataSource: DataSource): Requests {
  const driver = dataSource.driver as unknown as { master: PgPool; pool: MysqlPool; databaseConnection: Database };
  switch (engine) {
    case 'postgres':
      return barePostgres(driver.master, qualifiedTable(dataSource, IDEMPOTENCY_RECORDS_TABLE, 'schema'));
    case 'mariadb':
      return bareMysql(driver.pool, qualifiedTable(dataSource, IDEMPOTENCY_RECORDS_TABLE, 'database'));
    case 'sqlite':
      return bareSqlite(driver.databaseConnection, qualifiedTable(dataSource, IDEMPOTENCY_RECORDS_TABLE, 'schema'));
  }
}

function barePostgres(pool: PgPool, table: string): Requests {
  const sql = postgresStatements(table);
  const { namespace, scope, fingerprint, leaseMs, ttlMs, response } = REQUEST;
  const acquire = async (key: string, token: string) => {
    const config: QueryConfig = {
      ...sql.acquire.insertFresh,
      values: [namespace, scope, key, fingerprint, token, leaseMs, ttlMs],
    };
    const { rows } = await pool.query(config);
    return rows[0] as { inserted: string; response: string | null };
  };
  return {
    async fresh(n) {
      const key = `fresh-${n}`;
      const token = `t${n}`;
      if (Number((await acquire(key, token)).inserted) !== 1) throw new Error(`postgres: ${key} was not fresh`);
      const done = await pool.query({ ...sql.complete, values: [response, ttlMs, namespace, scope, key, token] });
      if (done.rowCount !== 1) throw new Error(`postgres: ${key} did not complete`);
    },
    async replay(n) {
      if ((await acquire(seedKey(n), `t${n}`)).response == null) throw new Error('postgres: no stored response');
    },
  };
}

function bareMysql(pool: MysqlPool, table: string): Requests {
  const sql = mysqlStatements(table);
  const { namespace, scope, fingerprint, leaseMs, ttlMs, response } = REQUEST;
  const execute = <T extends ResultSetHeader | RowDataPacket[]>(statement: string, values: Array<string | number>) =>
    new Promise<T>((resolve, reject) =>
      pool.execute<T>(statement, values, (error, result) => (error ? reject(error) : resolve(result))),
    );
  const acquire = (key: string, token: string) =>
    execute<ResultSetHeader>(sql.acquire, [namespace, scope, key, fingerprint, token, leaseMs, ttlMs]);
  return {
    async fresh(n) {
      const key = `fresh-${n}`;
      const token = `t${n}`;
      if ((await acquire(key, token)).insertId !== 0) throw new Error(`mariadb: ${key} was not fresh`);
      const done = await execute<ResultSetHeader>(sql.complete, [response, ttlMs, namespace, scope, key, token]);
      if (done.affectedRows !== 1) throw new Error(`mariadb: ${key} did not complete`);
    },
    async replay(n) {
      const key = seedKey(n);
      if ((await acquire(key, `t${n}`)).insertId !== LOST) throw new Error(`mariadb: ${key} was not taken`);
      const rows = await execute<RowDataPacket[]>(sql.readExisting, [namespace, scope, key]);
      if (rows[0]?.response == null) throw new Error('mariadb: no stored response');
    },
  };
}

function bareSqlite(db: Database, table: string): Requests {
  const sql = sqliteStatements(table);
  const { namespace, scope, fingerprint, leaseMs, ttlMs, response } = REQUEST;
  const insertFresh = db.prepare(sql.insertFresh);
  const read = db.prepare<[string, string, string], { now: number; response: string | null }>(sql.read);
  const upsert = db.prepare(sql.upsert);
  const complete = db.prepare(sql.complete);
  // The store's replay: the insert does nothing, then the read and the guarded upsert in one IMMEDIATE transaction.
  const decide = db.transaction((key: string, token: string) => {
    const row = read.get(namespace, scope, key)!;
    const now = Number(row.now);
    upsert.run(namespace, scope, key, fingerprint, token, now + leaseMs, now + ttlMs, now, now);
    return row.response;
  });
  return {
    async fresh(n) {
      const key = `fresh-${n}`;
      const token = `t${n}`;
      if (insertFresh.run(namespace, scope, key, fingerprint, token, leaseMs, ttlMs).changes !== 1)
        throw new Error(`sqlite: ${key} was not fresh`);
      // The handler runs here in a guarded request, so other requests' statements come between these two, as they do
      // between the store's acquire and complete; run back to back, the two would share SQLite's warm cursor.
      await Promise.resolve();
      if (complete.run(response, ttlMs, namespace, scope, key, token).changes !== 1)
        throw new Error(`sqlite: ${key} did not complete`);
    },
    async replay(n) {
      const key = seedKey(n);
      const token = `t${n}`;
      if (insertFresh.run(namespace, scope, key, fingerprint, token, leaseMs, ttlMs).changes !== 0)
        throw new Error(`sqlite: ${key} was fresh`);
      if (decide.immediate(key, token) == null) throw new Error('sqlite: no stored response');
    },
  };
}
