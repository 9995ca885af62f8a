import { randomBytes } from 'node:crypto';
import { Client, Pool } from 'pg';
import { DataSource } from 'typeorm';
import { poolStatementCounter } from '../support/pg-statement-counter';
import { describeWithServices, TEST_SERVICES } from '../support/services';
import { Cost, expectExactly, expectWithin, fewestOf } from './budget';
import { CREATE_WRITES_TABLE, GuardedApp } from './guarded-app';

/** What the server and the driver counted while some requests ran. */
interface Costs {
  /** Statements the pool's one connection sent, counted at the `pg` client (the server keeps no per-backend count). */
  statements: number;
  /** Transactions committed in the suite's own database (`pg_stat_database.xact_commit`). */
  commits: number;
  /** Rows inserted, updated and deleted in it (`tup_inserted + tup_updated + tup_deleted`). */
  rowWrites: number;
  /** WAL flushes of the whole server (`pg_stat_wal.wal_sync`): other databases' commits count too. */
  walFlushes: number;
  /** WAL bytes of the whole server (`pg_stat_wal.wal_bytes`), reported only: any other client adds to it. */
  walBytes: number;
}

async function onServer(sql: string): Promise<void> {
  const client = new Client({ connectionString: TEST_SERVICES.postgres });
  await client.connect();
  await client.query(sql).finally(() => client.end());
}

/**
 * Budgets per guarded request on PostgreSQL (TypeORM store), in a database created for the suite, so that
 * `pg_stat_database` counts nothing but its requests (the server runs no autovacuum), on one pooled connection, so
 * that its statistics, which a backend hands over only when forced (`pg_stat_force_next_flush()`), are read on the
 * backend that ran the requests.
 */
describeWithServices(['postgres'], 'Budgets per request on PostgreSQL (a database of its own)', () => {
  const database = `idem_budgets_${randomBytes(6).toString('hex')}`;
  let guarded: GuardedApp;
  let dataSource: DataSource;
  let countStatements: (work: () => Promise<unknown>) => Promise<number>;
  let overhead: Costs;

  beforeAll(async () => {
    await onServer(`CREATE DATABASE ${database}`);
    const url = new URL(TEST_SERVICES.postgres);
    url.pathname = `/${database}`;
    guarded = await GuardedApp.startOnTypeOrm({
      type: 'postgres',
      url: url.toString(),
      poolSize: 1,
    });
    dataSource = guarded.app.get(DataSource);
    // An autovacuum worker's transactions would count in the database's figures too.
    expect(await dataSource.query('SHOW autovacuum')).toEqual([{ autovacuum: 'off' }]);
    await dataSource.query(CREATE_WRITES_TABLE);
    // The store's statements and TypeORM's go through the pool's clients: each one counts them, once wrapped.
    countStatements = poolStatementCounter((dataSource.driver as unknown as { master: Pool }).master);
    // Prepares every named statement once, so the budgets count the steady state.
    await guarded.replay(await guarded.fresh());
    await guarded.replay(await guarded.fresh('transactional'), 'transactional');
    overhead = await costsOf(async () => {});
  }, 30_000);
  afterAll(async () => {
    await guarded?.close();
    await onServer(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
  });

  async function counters(): Promise<Omit<Costs, 'statements'>> {
    await dataSource.query('SELECT pg_stat_force_next_flush()');
    const [row] = await dataSource.query(
      `SELECT d.xact_commit, d.tup_inserted + d.tup_updated + d.tup_deleted AS row_writes, w.wal_sync, w.wal_bytes
       FROM pg_stat_database AS d, pg_stat_wal AS w WHERE d.datname = current_database()`,
    );
    return {
      commits: Number(row.xact_commit),
      rowWrites: Number(row.row_writes),
      walFlushes: Number(row.wal_sync),
      walBytes: Number(row.wal_bytes),
    };
  }

  /** The costs of `work`, less what reading the counters costs (measured once, with no work). */
  async function costsOf(work: () => Promise<unknown>): Promise<Costs> {
    const before = await counters();
    const statements = await countStatements(work);
    const after = await counters();
    const less = (name: keyof Omit<Costs, 'statements'>) => after[name] - before[name] - (overhead?.[name] ?? 0);
    return {
      statements,
      commits: less('commits'),
      rowWrites: less('rowWrites'),
      walFlushes: less('walFlushes'),
      walBytes: less('walBytes'),
    };
  }

  /** `count` requests made one after another, so no two commits can share a WAL flush. */
  const times = (count: number, request: () => Promise<unknown>) => async () => {
    for (let i = 0; i < count; i++) await request();
  };

  // Flushes are counted over N requests, between budget × N (no two sequential commits share one) and (budget + 1) × N,
  // which one more flush per request reaches; the fewest of three runs keeps other clients' flushes out.
  const N = 20;
  const postgres = (request: string, unit: string): Cost => ({ engine: 'PostgreSQL', request, unit });

  it('costs a fresh key 2 statements (the insert, the completion), 2 commits and 2 WAL flushes', async () => {
    const one = await costsOf(() => guarded.fresh());
    expectExactly(postgres('a fresh key', 'statements'), one.statements, 2);
    expectExactly(postgres('a fresh key', 'commits'), one.commits, 2);
    expectExactly(postgres('a fresh key', 'row writes'), one.rowWrites, 2, 'one insert, one update');
    // Each commit waits for its own flush; the WAL writer and other databases may add some, never take any away.
    const flushes = await fewestOf(3, 3 * N, async () => (await costsOf(times(N, () => guarded.fresh()))).walFlushes);
    expectWithin(postgres(`${N} fresh keys`, 'WAL flushes'), flushes, 2 * N, 3 * N);
  });

  it('costs a replay, a conflict and a mismatch 1 statement and no write: no row, no WAL, no flush', async () => {
    // The fresh-key insert finds the key taken and does nothing, and the same statement reads the row from its
    // snapshot, without a lock: nothing takes a transaction id, so its commit writes no WAL and waits for no flush.
    const key = await guarded.fresh();
    const one = await costsOf(() => guarded.replay(key));
    expectExactly(postgres('a replay', 'statements'), one.statements, 1);
    expectExactly(postgres('a replay', 'row writes'), one.rowWrites, 0);
    // WAL bytes are the whole server's: the fewest of three replays is the closest to this one's.
    const walBytes = await fewestOf(3, 1, async () => (await costsOf(() => guarded.replay(key))).walBytes);
    expectExactly(postgres('a replay', 'WAL bytes'), walBytes, 0);
    // The WAL writer may flush in the background meanwhile; a flush per replay would be N.
    const flushes = await fewestOf(3, N, async () => (await costsOf(times(N, () => guarded.replay(key)))).walFlushes);
    expectWithin(postgres(`${N} replays`, 'WAL flushes'), flushes, 0, N);
    const mismatch = await costsOf(() => guarded.mismatch(key));
    expectExactly(postgres('a mismatch (422)', 'statements'), mismatch.statements, 1);
    expectExactly(postgres('a mismatch (422)', 'row writes'), mismatch.rowWrites, 0);
    const conflict = await guarded.conflict((second) => costsOf(second));
    expectExactly(postgres('an in-flight conflict (409)', 'statements'), conflict.statements, 1);
    expectExactly(postgres('an in-flight conflict (409)', 'row writes'), conflict.rowWrites, 0);
  });

  it('adds 2 statements to the business transaction in the transactional mode, and 1 WAL flush per request in all', async () => {
    const one = await costsOf(() => guarded.fresh('transactional'));
    // The handler's transaction is BEGIN, its INSERT and COMMIT; the mode adds the acquire before it and the
    // completion inside it.
    expectExactly(
      postgres('a fresh key in the transactional mode', 'statements'),
      one.statements,
      3 + 2,
      'BEGIN, INSERT, COMMIT and 2 of ours',
    );
    expectExactly(postgres('a fresh key in the transactional mode', 'commits'), one.commits, 2);
    // The acquire commits without waiting for its flush; the transaction's flush carries it.
    const flushes = await fewestOf(
      3,
      2 * N,
      async () => (await costsOf(times(N, () => guarded.fresh('transactional')))).walFlushes,
    );
    expectWithin(postgres(`${N} fresh keys in the transactional mode`, 'WAL flushes'), flushes, N, 2 * N);
  });
});
