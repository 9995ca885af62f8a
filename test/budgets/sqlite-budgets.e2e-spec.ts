import type { Database } from 'better-sqlite3';
import { DataSource, DataSourceOptions } from 'typeorm';
import { createIsolatedDatabase, IsolatedDatabase } from '../support/typeorm-data-sources';
import { Cost, expectExactly } from './budget';
import { CREATE_WRITES_TABLE, GuardedApp } from './guarded-app';
import { recordSkippedSuite } from '../support/skipped-suites';
import { countStatements, fileSyncsOf, StatementCounter, STRACE_AVAILABLE } from './sqlite-counters';

// Outside CI a machine without strace skips the fsync budget; in CI (which installs strace) it runs and fails loudly.
const itWithStrace = STRACE_AVAILABLE || process.env.CI === 'true' ? it : it.skip;
if (itWithStrace === it.skip) recordSkippedSuite('the SQLite fsync budget', 'strace not installed');

/**
 * Budgets per guarded request on SQLite (TypeORM store, better-sqlite3, WAL mode as `enableWAL` sets it): the
 * statements the connection executes, counted at the driver, and the syncs and WAL commits on the database's files,
 * counted by strace on this process.
 */
describe('Budgets per request on SQLite (a file of its own)', () => {
  let database: IsolatedDatabase;
  let guarded: GuardedApp;
  let db: Database;
  let path: string;
  let counter: StatementCounter;
  const statementsOf = (work: () => Promise<unknown>) => counter.statementsOf(work);

  beforeAll(async () => {
    database = await createIsolatedDatabase('sqlite');
    path = (database.options as { database: string }).database;
    guarded = await GuardedApp.startOnTypeOrm({
      ...database.options,
    } as DataSourceOptions);
    const dataSource = guarded.app.get(DataSource);
    await dataSource.query(CREATE_WRITES_TABLE);
    db = (dataSource.driver as unknown as { databaseConnection: Database }).databaseConnection;
    // better-sqlite3 builds SQLite with synchronous = NORMAL in WAL mode: a commit appends to the WAL without a sync;
    // only a checkpoint syncs. The fsync budgets below hold for that setting.
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.pragma('synchronous', { simple: true })).toBe(1);
    counter = countStatements(db);
    await guarded.replay(await guarded.fresh());
  }, 30_000);
  afterAll(async () => {
    counter?.restore();
    await guarded?.close();
    await database?.drop();
  });

  const N = 20;
  const sqlite = (request: string, unit: string): Cost => ({ engine: 'SQLite', request, unit });
  const named = (statements: string[]) => statements.join('; ');

  /**
   * Syncs and WAL commits of `count` requests, on a WAL just restarted, so that no checkpoint falls among them (one
   * comes every 1,000 pages). The first write into a restarted WAL syncs its new header: one request makes it first.
   */
  async function fileSyncsOfMany(count: number, request: () => Promise<unknown>) {
    db.pragma('wal_checkpoint(TRUNCATE)');
    await request();
    return fileSyncsOf(path, async () => {
      for (let i = 0; i < count; i++) await request();
    });
  }

  it('costs a fresh key 2 statements (the insert, the completion)', async () => {
    const statements = await statementsOf(() => guarded.fresh());
    expectExactly(sqlite('a fresh key', 'statements'), statements.length, 2, named(statements));
  });

  it('costs a replay, a mismatch and a conflict 5 statements each, none of which writes', async () => {
    // What the code does: the insert of a fresh key finds the key taken; then the read and the guarded upsert run in
    // one BEGIN IMMEDIATE … COMMIT, so the upsert decides on exactly the row the read saw. In a process of its own,
    // these are microseconds of work, not round trips; no page reaches the WAL (checked below).
    const key = await guarded.fresh();
    const replay = await statementsOf(() => guarded.replay(key));
    expectExactly(sqlite('a replay', 'statements'), replay.length, 5, named(replay));
    const mismatch = await statementsOf(() => guarded.mismatch(key));
    expectExactly(sqlite('a mismatch (422)', 'statements'), mismatch.length, 5, named(mismatch));
    const conflict = await guarded.conflict((second) => statementsOf(second));
    expectExactly(sqlite('an in-flight conflict (409)', 'statements'), conflict.length, 5, named(conflict));
  });

  it('adds 2 statements to the business transaction in the transactional mode', async () => {
    const statements = await statementsOf(() => guarded.fresh('transactional'));
    const request = 'a fresh key in the transactional mode';
    // The handler's transaction is BEGIN, its INSERT and COMMIT; the mode adds the acquire before it and the
    // completion inside it.
    expectExactly(sqlite(request, 'statements'), statements.length, 3 + 2, named(statements));
  });

  itWithStrace('commits a fresh key twice to the WAL and a replay never, with no sync (strace)', async () => {
    const fresh = await fileSyncsOfMany(N, () => guarded.fresh());
    expectExactly(sqlite(`${N} fresh keys`, 'WAL commits'), fresh.walCommits, 2 * N);
    expectExactly(sqlite(`${N} fresh keys`, 'fsyncs'), fresh.syncs, 0);
    const key = await guarded.fresh();
    const replays = await fileSyncsOfMany(N, () => guarded.replay(key));
    expectExactly(sqlite(`${N} replays`, 'WAL commits'), replays.walCommits, 0);
    expectExactly(sqlite(`${N} replays`, 'fsyncs'), replays.syncs, 0);
    // The acquire commits on its own, before the transaction that holds the write and the completion.
    const transactional = await fileSyncsOfMany(N, () => guarded.fresh('transactional'));
    expectExactly(sqlite(`${N} fresh keys in the transactional mode`, 'WAL commits'), transactional.walCommits, 2 * N);
    expectExactly(sqlite(`${N} fresh keys in the transactional mode`, 'fsyncs'), transactional.syncs, 0);
  });
});
