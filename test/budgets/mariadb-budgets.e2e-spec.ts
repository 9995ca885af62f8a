import { DataSource, DataSourceOptions } from 'typeorm';
import { describeWithServices } from '../support/services';
import { createIsolatedDatabase, IsolatedDatabase } from '../support/typeorm-data-sources';
import { Cost, expectExactly, expectWithin, fewestOf } from './budget';
import { CREATE_WRITES_TABLE, GuardedApp } from './guarded-app';

// Per connection: what the server ran for the pool's one connection. Questions counts every statement a client
// sent (COM_STMT_EXECUTE included, COM_STMT_PREPARE not); Com_stmt_execute the prepared ones among them.
const SESSION = ['Questions', 'Com_stmt_execute', 'Handler_commit'] as const;
// Of the whole server, other databases' commits included: writes to the redo log, each one made durable at its
// commit here (innodb_flush_log_at_trx_commit = 1, checked below).
const GLOBAL = ['Innodb_log_writes'] as const;

type Counter = (typeof SESSION)[number] | (typeof GLOBAL)[number];
type Costs = Record<Counter, number>;

/**
 * Budgets per guarded request on MariaDB (TypeORM store), on one pooled connection, so that SHOW SESSION STATUS,
 * read on that connection, counts exactly the statements the requests sent.
 */
describeWithServices(['mariadb'], 'Budgets per request on MariaDB (a database of its own)', () => {
  let database: IsolatedDatabase;
  let guarded: GuardedApp;
  let dataSource: DataSource;
  let overhead: Costs | undefined;

  beforeAll(async () => {
    database = await createIsolatedDatabase('mariadb');
    guarded = await GuardedApp.startOnTypeOrm({
      ...database.options,
      poolSize: 1,
    } as DataSourceOptions);
    dataSource = guarded.app.get(DataSource);
    await dataSource.query(CREATE_WRITES_TABLE);
    const [{ Value: flushAtCommit }] = await dataSource.query("SHOW VARIABLES LIKE 'innodb_flush_log_at_trx_commit'");
    expect(flushAtCommit).toBe('1');
    // Prepares every statement on the connection once, so the budgets count the steady state.
    await guarded.replay(await guarded.fresh());
    await guarded.replay(await guarded.fresh('transactional'), 'transactional');
    overhead = await costsOf(async () => {});
  }, 30_000);
  afterAll(async () => {
    await guarded?.close();
    await database?.drop();
  });

  async function counters(): Promise<Costs> {
    const list = (names: readonly string[]) => names.map((name) => `'${name}'`).join(', ');
    const rows: { Variable_name: string; Value: string }[] = [
      ...(await dataSource.query(`SHOW SESSION STATUS WHERE Variable_name IN (${list(SESSION)})`)),
      ...(await dataSource.query(`SHOW GLOBAL STATUS WHERE Variable_name IN (${list(GLOBAL)})`)),
    ];
    return Object.fromEntries(rows.map((row) => [row.Variable_name, Number(row.Value)])) as Costs;
  }

  /** The counters' deltas over `work`, less what reading them costs (measured once, with no work). */
  async function costsOf(work: () => Promise<unknown>): Promise<Costs> {
    const before = await counters();
    await work();
    const after = await counters();
    const names = [...SESSION, ...GLOBAL];
    return Object.fromEntries(
      names.map((name) => [name, after[name] - before[name] - (overhead?.[name] ?? 0)]),
    ) as Costs;
  }

  const times = (count: number, request: () => Promise<unknown>) => async () => {
    for (let i = 0; i < count; i++) await request();
  };

  // Flushes are counted over N requests, between budget × N (no two sequential commits share one) and (budget + 1) × N,
  // which one more flush per request reaches; the fewest of three runs keeps other clients' flushes out.
  const N = 20;
  const mariadb = (request: string, unit: string): Cost => ({ engine: 'MariaDB', request, unit });

  /** Redo log writes over `count` requests one after another: no two commits share one. */
  const redoWritesOf = (count: number, below: number, request: () => Promise<unknown>) =>
    fewestOf(3, below, async () => (await costsOf(times(count, request))).Innodb_log_writes);

  it('costs a fresh key 2 statements (the upsert, the completion) and 2 redo log flushes', async () => {
    const one = await costsOf(() => guarded.fresh());
    expectExactly(mariadb('a fresh key', 'statements'), one.Questions, 2);
    expectExactly(mariadb('a fresh key', 'prepared statements'), one.Com_stmt_execute, 2);
    const writes = await redoWritesOf(N, 3 * N, () => guarded.fresh());
    expectWithin(mariadb(`${N} fresh keys`, 'redo log flushes'), writes, 2 * N, 3 * N);
  });

  it('costs a replay, a mismatch and a conflict 2 statements each and no redo log write', async () => {
    // What the dialect does, and its floor while one dialect serves MySQL too: the upsert decides under the row lock
    // but reports only an outcome (through LAST_INSERT_ID), so a second statement reads the row it lost to. MariaDB
    // alone could return that row from the upsert (10.5+ accepts RETURNING on INSERT … ON DUPLICATE KEY UPDATE);
    // MySQL cannot. The upsert changes nothing, so InnoDB logs nothing.
    const key = await guarded.fresh();
    const replay = await costsOf(() => guarded.replay(key));
    expectExactly(mariadb('a replay', 'statements'), replay.Questions, 2, 'the upsert, the read of the row it lost to');
    expectExactly(mariadb('a replay', 'redo log writes'), replay.Innodb_log_writes, 0);
    const writes = await redoWritesOf(N, N, () => guarded.replay(key));
    expectWithin(mariadb(`${N} replays`, 'redo log flushes'), writes, 0, N);
    const mismatch = await costsOf(() => guarded.mismatch(key));
    expectExactly(mariadb('a mismatch (422)', 'statements'), mismatch.Questions, 2);
    const conflict = await guarded.conflict((second) => costsOf(second));
    expectExactly(mariadb('an in-flight conflict (409)', 'statements'), conflict.Questions, 2);
  });

  it('adds 2 statements to the business transaction in the transactional mode, and 2 redo log flushes', async () => {
    // The handler's transaction is BEGIN, its INSERT and COMMIT; the mode adds the acquire before it and the
    // completion inside it.
    const one = await costsOf(() => guarded.fresh('transactional'));
    const request = 'a fresh key in the transactional mode';
    expectExactly(mariadb(request, 'statements'), one.Questions, 3 + 2, 'BEGIN, INSERT, COMMIT and 2 of ours');
    expectExactly(mariadb(request, 'prepared statements'), one.Com_stmt_execute, 2, 'the acquire, the completion');
    // Not 1 as on PostgreSQL: innodb_flush_log_at_trx_commit is global, so no session can let the acquire's commit
    // go without its flush; that flush, and the transaction's, are the floor here.
    const writes = await redoWritesOf(N, 3 * N, () => guarded.fresh('transactional'));
    expectWithin(mariadb(`${N} fresh keys in the transactional mode`, 'redo log flushes'), writes, 2 * N, 3 * N);
  });
});
