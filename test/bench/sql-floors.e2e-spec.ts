import { randomBytes, randomUUID } from 'node:crypto';
import type { Pool as MariadbPool, RowDataPacket } from 'mysql2/promise';
import { Client, Pool } from 'pg';
import request from 'supertest';
import { DataSource, DataSourceOptions } from 'typeorm';
import { CreateIdempotencyRecords1764259200000 } from '@nest-idempotency/core/typeorm';
import { FLOOR_TABLE, inSequence, SqlFloor, sqlFloorModule } from '../../bench/apps/sql-floor';
import { openMariadbFloor } from '../../bench/apps/sql-floor-mariadb';
import { openPostgresFloor, openPostgresTransactionFloor } from '../../bench/apps/sql-floor-postgres';
import { openSqliteFloor } from '../../bench/apps/sql-floor-sqlite';
import { expectExactly } from '../budgets/budget';
import { countStatements } from '../budgets/sqlite-counters';
import { HTTP_ADAPTERS, RunningApp, startHttpApp } from '../support/http-app';
import { poolStatementCounter } from '../support/pg-statement-counter';
import { describeWithServices, TEST_SERVICES } from '../support/services';
import { createIsolatedDatabase, IsolatedDatabase } from '../support/typeorm-data-sources';

/*
 * The bench's SQL floors (bench/apps/sql-floor*.ts) claim to send, per fresh key, exactly the statements the TypeORM
 * store sends (test/budgets/), and to leave the row the store leaves. Here each one serves real requests on its engine,
 * counted as the budgets count them: a floor that skipped or added a statement, or stored other bytes, would flatter
 * or wrong the store it stands under.
 */

// The store's budgets for a fresh key (test/budgets/*-budgets.e2e-spec.ts). In the transactional mode: the acquire,
// then BEGIN, the completion and COMMIT around a handler that writes nothing itself.
const FRESH_KEY_STATEMENTS = 2;
const TRANSACTIONAL_FRESH_KEY_STATEMENTS = 4;
const LEASE_MS = 30_000;
const TTL_MS = 24 * 60 * 60 * 1000;
const ORDER = { amount: 2500, currency: 'EUR', reference: 'order-1' };

/** A floor behind the bench's route, and how many requests it reported completed. */
class FloorApp {
  executed = 0;
  private constructor(private running: RunningApp) {}

  static async start(floor: SqlFloor): Promise<FloorApp> {
    let app: FloorApp | undefined = undefined;
    const running = await startHttpApp(
      { imports: [sqlFloorModule(floor, () => app!.executed++)] },
      HTTP_ADAPTERS[0][1],
    );
    app = new FloorApp(running);
    return app;
  }

  /** A fresh key (201): the key and the answer's body as sent. */
  async fresh(): Promise<{ key: string; body: string }> {
    const key = `floor-${randomUUID()}`;
    const response = await this.post(key);
    if (response.status !== 201) throw new Error(`a fresh key answered ${response.status}: ${response.text}`);
    return { key, body: response.text };
  }

  post(key: string) {
    return request(this.running.url).post('/orders').set('Idempotency-Key', key).send(ORDER);
  }

  close(): Promise<void> {
    return this.running.close();
  }
}

/** A row as the engine hands it back, its bytes as text. */
type Row = Record<string, unknown>;
const text = (value: unknown) => (Buffer.isBuffer(value) ? value.toString('utf8') : value);

/** What the library stores for the answer `body` (201, no replayed header), and the rest of a completed fresh row. */
function expectCompletedRow(row: Row | undefined, key: string, body: string): void {
  expect(row).toBeDefined();
  expect({
    namespace: text(row!.namespace),
    scope: text(row!.scope),
    key: text(row!.key),
    token: row!.token,
    response: text(row!.response),
  }).toEqual({
    namespace: 'idempotency',
    scope: '',
    key,
    token: null,
    response: `{"status":201,"headers":{},"body":${body}}`,
  });
  expect(text(row!.fingerprint)).toMatch(/^[0-9a-f]{64}$/);
  // Completed: expires a TTL after completion, and the claim's lease was set a lease after the claim, just before.
  const gap = Number(row!.expires_at) - Number(row!.lease_until);
  expect(gap).toBeGreaterThanOrEqual(TTL_MS - LEASE_MS);
  expect(gap).toBeLessThan(TTL_MS - LEASE_MS + 10_000);
}

/** A second request on a completed key is refused, and its row stays as it was. */
async function expectKeyTakenKeepsRow(app: FloorApp, key: string, read: () => Promise<Row | undefined>) {
  const before = await read();
  const again = await app.post(key);
  expect(again.status).toBe(409);
  expect(await read()).toEqual(before);
}

describeWithServices(['postgres'], 'SQL floors of the bench on PostgreSQL (a database of their own)', () => {
  const database = `idem_floors_${randomBytes(6).toString('hex')}`;
  let url: string;

  const onServer = async (sql: string) => {
    const client = new Client({ connectionString: TEST_SERVICES.postgres });
    await client.connect();
    await client.query(sql).finally(() => client.end());
  };

  beforeAll(async () => {
    await onServer(`CREATE DATABASE ${database}`);
    const at = new URL(TEST_SERVICES.postgres);
    at.pathname = `/${database}`;
    url = at.toString();
  });
  afterAll(() => onServer(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`));

  const readRow = (pool: Pool, key: string) => async () =>
    (await pool.query(`SELECT * FROM ${FLOOR_TABLE} WHERE "key" = $1`, [key])).rows[0] as Row | undefined;

  async function runs(floor: SqlFloor & { pool: Pool }, budget: number, request: string) {
    const count = poolStatementCounter(floor.pool);
    const app = await FloorApp.start(floor);
    try {
      // The first request prepares the named statements on the pool's one connection.
      await app.fresh();
      let sent!: { key: string; body: string };
      const statements = await count(async () => (sent = await app.fresh()));
      expectExactly({ engine: 'PostgreSQL floor', request, unit: 'statements' }, statements, budget);
      expectCompletedRow(await readRow(floor.pool, sent.key)(), sent.key, sent.body);
      expect(app.executed).toBe(2);
      await expectKeyTakenKeepsRow(app, sent.key, readRow(floor.pool, sent.key));
      expect(app.executed).toBe(2);
    } finally {
      await app.close();
      await floor.close();
    }
  }

  it("sends a fresh key's 2 statements, the store's, and leaves the row the store leaves", async () => {
    await runs(inSequenceWithPool(await openPostgresFloor(url, 1)), FRESH_KEY_STATEMENTS, 'a fresh key');
  });

  it("sends the transactional mode's 4 (the insert, BEGIN, the completion, COMMIT) in a transaction of its own", async () => {
    await runs(
      await openPostgresTransactionFloor(url, 1),
      TRANSACTIONAL_FRESH_KEY_STATEMENTS,
      'a fresh key in the transactional mode',
    );
  });

  it("creates the migration's columns and primary key", async () => {
    const floor = await openPostgresFloor(url, 1);
    const migrated = await migratedDataSource({ type: 'postgres', url });
    try {
      const columns = async (table: string) =>
        (
          await floor.pool.query(
            `SELECT c.column_name, c.data_type, c.character_maximum_length, c.is_nullable,
                    (SELECT count(*) FROM information_schema.key_column_usage AS k
                     WHERE k.table_name = c.table_name AND k.column_name = c.column_name) AS in_key
             FROM information_schema.columns AS c WHERE c.table_name = $1 ORDER BY c.ordinal_position`,
            [table],
          )
        ).rows;
      expect(await columns(FLOOR_TABLE)).toEqual(await columns('idempotency_records'));
    } finally {
      await migrated.destroy();
      await floor.close();
    }
  });
});

describeWithServices(['mariadb'], 'SQL floor of the bench on MariaDB (a database of its own)', () => {
  let database: IsolatedDatabase;
  let url: string;

  beforeAll(async () => {
    database = await createIsolatedDatabase('mariadb');
    url = (database.options as { url: string }).url;
  });
  afterAll(() => database?.drop());

  /** What the server ran for the pool's one connection while `work` ran, less what reading it costs. */
  async function sessionCosts(pool: MariadbPool, work: () => Promise<unknown>) {
    const read = async () => {
      const [rows] = await pool.query<RowDataPacket[]>(
        "SHOW SESSION STATUS WHERE Variable_name IN ('Questions', 'Com_stmt_execute')",
      );
      return Object.fromEntries(rows.map((row) => [row.Variable_name as string, Number(row.Value)]));
    };
    const idle = await read();
    const before = await read();
    await work();
    const after = await read();
    // Each SHOW counts as a question: the one between `idle` and `before` is what one read adds.
    const overhead = before.Questions - idle.Questions;
    return {
      questions: after.Questions - before.Questions - overhead,
      prepared: after.Com_stmt_execute - before.Com_stmt_execute,
    };
  }

  it("sends a fresh key's 2 prepared statements, the store's, and leaves the row the store leaves", async () => {
    const floor = await openMariadbFloor(url, 1);
    const app = await FloorApp.start(inSequence(floor));
    const readRow = (key: string) => async () => {
      const [rows] = await floor.pool.query<RowDataPacket[]>(
        `SELECT * FROM ${FLOOR_TABLE} WHERE \`key\` = CAST(? AS BINARY)`,
        [key],
      );
      return rows[0] as Row | undefined;
    };
    try {
      await app.fresh();
      let sent!: { key: string; body: string };
      const costs = await sessionCosts(floor.pool, async () => (sent = await app.fresh()));
      const cost = (unit: string) => ({ engine: 'MariaDB floor', request: 'a fresh key', unit });
      expectExactly(cost('statements'), costs.questions, FRESH_KEY_STATEMENTS);
      expectExactly(cost('prepared statements'), costs.prepared, FRESH_KEY_STATEMENTS);
      expectCompletedRow(await readRow(sent.key)(), sent.key, sent.body);
      await expectKeyTakenKeepsRow(app, sent.key, readRow(sent.key));
      expect(app.executed).toBe(2);
    } finally {
      await app.close();
      await floor.close();
    }
  });

  it("creates the migration's columns and primary key", async () => {
    const floor = await openMariadbFloor(url, 1);
    const migrated = await migratedDataSource(database.options);
    try {
      const columns = async (table: string) =>
        (
          await floor.pool.query<RowDataPacket[]>(
            `SELECT column_name, column_type, is_nullable, collation_name, column_key FROM information_schema.columns
             WHERE table_schema = DATABASE() AND table_name = ? ORDER BY ordinal_position`,
            [table],
          )
        )[0];
      expect(await columns(FLOOR_TABLE)).toEqual(await columns('idempotency_records'));
    } finally {
      await migrated.destroy();
      await floor.close();
    }
  });
});

describe('SQL floor of the bench on SQLite (a file of its own)', () => {
  let database: IsolatedDatabase;
  let path: string;

  beforeAll(async () => {
    database = await createIsolatedDatabase('sqlite');
    path = (database.options as { database: string }).database;
  });
  afterAll(() => database?.drop());

  it("runs a fresh key's 2 statements, the store's, and leaves the row the store leaves", async () => {
    const floor = openSqliteFloor(path);
    const counter = countStatements(floor.db);
    const app = await FloorApp.start(inSequence(floor));
    const readRow = (key: string) => async () =>
      floor.db.prepare(`SELECT * FROM ${FLOOR_TABLE} WHERE "key" = ?`).get(key) as Row | undefined;
    try {
      await app.fresh();
      let sent!: { key: string; body: string };
      const statements = await counter.statementsOf(async () => (sent = await app.fresh()));
      expectExactly(
        { engine: 'SQLite floor', request: 'a fresh key', unit: 'statements' },
        statements.length,
        FRESH_KEY_STATEMENTS,
        statements.join('; '),
      );
      expect(floor.db.pragma('journal_mode', { simple: true })).toBe('wal');
      expectCompletedRow(await readRow(sent.key)(), sent.key, sent.body);
      await expectKeyTakenKeepsRow(app, sent.key, readRow(sent.key));
      expect(app.executed).toBe(2);
    } finally {
      counter.restore();
      await app.close();
      await floor.close();
    }
  });

  it("creates the migration's columns and primary key", async () => {
    const floor = openSqliteFloor(path);
    const migrated = await migratedDataSource(database.options);
    try {
      const columns = (table: string) =>
        floor.db.prepare(`SELECT name, type, "notnull", pk FROM pragma_table_info(?) ORDER BY cid`).all(table);
      expect(columns(FLOOR_TABLE)).toEqual(columns('idempotency_records'));
    } finally {
      await migrated.destroy();
      await floor.close();
    }
  });
});

/** The library's migrated table next to the floor's, to compare their schemas. */
async function migratedDataSource(options: DataSourceOptions): Promise<DataSource> {
  const dataSource = new DataSource({
    ...options,
    migrations: [CreateIdempotencyRecords1764259200000],
    migrationsRun: true,
    poolSize: 1,
  } as DataSourceOptions);
  return dataSource.initialize();
}

/** `inSequence` over the PostgreSQL statements, keeping their pool in reach for the counter. */
function inSequenceWithPool(statements: Parameters<typeof inSequence>[0] & { pool: Pool }): SqlFloor & { pool: Pool } {
  return { ...inSequence(statements), pool: statements.pool };
}
