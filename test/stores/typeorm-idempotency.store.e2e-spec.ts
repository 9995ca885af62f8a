import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { INestApplicationContext } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { getDataSourceToken, TypeOrmModule } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { IdempotencyModule, IdempotencyStore } from '@nest-idempotency/core';
import {
  CreateIdempotencyRecords1764259200000,
  IDEMPOTENCY_RECORDS_TABLE,
  IdempotencyRecordEntity,
  sqliteConnectionMutex,
  TypeOrmIdempotencyStore,
} from '@nest-idempotency/core/typeorm';
import { describeWithServices, TestService } from '../support/services';
import { createIsolatedDatabase, IsolatedDatabase, SqlDialect } from '../support/typeorm-data-sources';
import { acquireRequest, describeIdempotencyStoreContract } from '@nest-idempotency/core/testing';
import { testRunner } from '../support/test-runner';

const DIALECTS: { dialect: SqlDialect; services: TestService[] }[] = [
  { dialect: 'postgres', services: ['postgres'] },
  { dialect: 'mariadb', services: ['mariadb'] },
  { dialect: 'sqlite', services: [] },
];

const HOUR = 3_600_000;

const attempt = acquireRequest;

/** Creates a table of its own (the migration, under another name) so a test can count and sweep every row in it. */
async function createTable(dataSource: DataSource, tableName: string): Promise<void> {
  const queryRunner = dataSource.createQueryRunner();
  try {
    await new CreateIdempotencyRecords1764259200000(tableName).up(queryRunner);
  } finally {
    await queryRunner.release();
  }
}

/** Writes rows directly, with expiry times an hour away from now on either side (so clock skew cannot matter). */
async function insertRows(
  dataSource: DataSource,
  tableName: string,
  namespace: string,
  keys: string[],
  expired: boolean,
) {
  const expiresAt = expired ? Date.now() - HOUR : Date.now() + HOUR;
  await dataSource
    .createQueryBuilder()
    .insert()
    .into(qualified(dataSource, tableName), [
      'namespace',
      'scope',
      'key',
      'fingerprint',
      'token',
      'lease_until',
      'expires_at',
      'response',
    ])
    .values(
      keys.map((key) => ({
        namespace,
        scope: 'merchant-1',
        key,
        fingerprint: 'fp-1',
        token: null,
        lease_until: expiresAt,
        expires_at: expiresAt,
        response: '"done"',
      })),
    )
    .execute();
}

async function countRows(dataSource: DataSource, tableName: string): Promise<number> {
  const row = await dataSource
    .createQueryBuilder()
    .select('COUNT(*)', 'n')
    .from(qualified(dataSource, tableName), 'r')
    .getRawOne();
  return Number(row.n);
}

/** Query builders given a bare table name ignore the DataSource's PostgreSQL schema; the store does not. */
function qualified(dataSource: DataSource, tableName: string): string {
  const schema = dataSource.options.type === 'postgres' ? dataSource.options.schema : undefined;
  return schema ? `${schema}.${tableName}` : tableName;
}

/** Sweeps until nothing expired is left; resolves how many rows this store deleted. */
async function drain(store: TypeOrmIdempotencyStore): Promise<number> {
  let total = 0;
  for (let deleted = await store.sweep(); deleted > 0; deleted = await store.sweep()) total += deleted;
  return total;
}

async function hasTable(dataSource: DataSource, tableName: string): Promise<boolean> {
  const queryRunner = dataSource.createQueryRunner();
  try {
    return await queryRunner.hasTable(tableName);
  } finally {
    await queryRunner.release();
  }
}

for (const { dialect, services } of DIALECTS) {
  describeWithServices(services, `TypeOrmIdempotencyStore on ${dialect}`, () => {
    const open = async () => {
      const database = await createIsolatedDatabase(dialect);
      const dataSource = await database.connect({ migrations: [CreateIdempotencyRecords1764259200000] });
      await dataSource.runMigrations();
      return { store: new TypeOrmIdempotencyStore(dataSource, { sweepIntervalMs: 0 }), close: () => database.drop() };
    };
    describeIdempotencyStoreContract(`typeorm ${dialect}`, { open }, testRunner);

    describe('schema, sweeper and limits', () => {
      let database: IsolatedDatabase;
      let dataSource: DataSource;
      let store: TypeOrmIdempotencyStore;

      beforeAll(async () => {
        database = await createIsolatedDatabase(dialect);
        dataSource = await database.connect({
          migrations: [CreateIdempotencyRecords1764259200000],
          entities: [IdempotencyRecordEntity],
        });
        await dataSource.runMigrations();
        store = new TypeOrmIdempotencyStore(dataSource, { sweepIntervalMs: 0 });
      });
      afterAll(async () => {
        await database?.drop();
      });

      it('runs the migration down and up again, and maps records through the entity', async () => {
        await dataSource.undoLastMigration();
        expect(await hasTable(dataSource, IDEMPOTENCY_RECORDS_TABLE)).toBe(false);
        await dataSource.runMigrations();

        const namespace = `entity-${randomUUID()}`;
        const owner = attempt({ fingerprint: 'fp-é' });
        await store.acquire({ namespace, scope: 'mérchant', key: 'Key-1' }, owner);
        await store.complete({ namespace, scope: 'mérchant', key: 'Key-1' }, owner.token, '{"ok":"😀"}', 60_000);
        const record = await dataSource.getRepository(IdempotencyRecordEntity).findOneByOrFail({ namespace });
        expect(record).toMatchObject({
          scope: 'mérchant',
          key: 'Key-1',
          fingerprint: 'fp-é',
          token: null,
          response: '{"ok":"😀"}',
        });
        expect(typeof record.expiresAt).toBe('number');
        expect(Math.abs(record.expiresAt - (Date.now() + 60_000))).toBeLessThan(30_000);
      });

      it('works on a table of another name', async () => {
        const tableName = `records_${randomUUID().slice(0, 8)}`;
        await createTable(dataSource, tableName);
        const custom = new TypeOrmIdempotencyStore(dataSource, { tableName, sweepIntervalMs: 0 });
        const id = { namespace: 'custom', scope: 'merchant-1', key: 'k' };
        const owner = attempt();
        expect(await custom.acquire(id, owner)).toEqual({ state: 'acquired', takenOver: false });
        expect(await custom.complete(id, owner.token, '"stored"', 60_000)).toBe(true);
        expect(await countRows(dataSource, tableName)).toBe(1);
        expect(await custom.acquire(id, attempt())).toMatchObject({ state: 'completed', response: '"stored"' });
      });

      it('sweeps only expired rows, one bounded batch per call', async () => {
        const tableName = `sweep_${randomUUID().slice(0, 8)}`;
        await createTable(dataSource, tableName);
        const sweeper = new TypeOrmIdempotencyStore(dataSource, { tableName, sweepIntervalMs: 0, sweepBatchSize: 4 });
        await insertRows(
          dataSource,
          tableName,
          'n',
          ['e1', 'e2', 'e3', 'e4', 'e5', 'e6', 'e7', 'e8', 'e9', 'e10'],
          true,
        );
        await insertRows(dataSource, tableName, 'n', ['live-1', 'live-2', 'live-3'], false);
        // A record whose TTL ran out through the store itself, on the database's clock.
        await sweeper.acquire(
          { namespace: 'n', scope: 'merchant-1', key: 'short' },
          attempt({ leaseMs: 50, ttlMs: 100 }),
        );
        await sleep(300);

        expect(await sweeper.sweep()).toBe(4);
        expect(await sweeper.sweep()).toBe(4);
        expect(await sweeper.sweep()).toBe(3);
        expect(await sweeper.sweep()).toBe(0);
        const left = await dataSource
          .createQueryBuilder()
          .select('r.key', 'key')
          .from(qualified(dataSource, tableName), 'r')
          .getRawMany();
        expect(left.map((row: { key: unknown }) => String(row.key)).sort()).toEqual(['live-1', 'live-2', 'live-3']);
      });

      it('lets two instances sweep at once while others acquire: no failure, no live row deleted', async () => {
        const tableName = `sweep_${randomUUID().slice(0, 8)}`;
        await createTable(dataSource, tableName);
        const expiredKeys = Array.from({ length: 300 }, (_, i) => `expired-${i}`);
        const liveKeys = Array.from({ length: 50 }, (_, i) => `live-${i}`);
        await insertRows(dataSource, tableName, 'n', expiredKeys, true);
        await insertRows(dataSource, tableName, 'n', liveKeys, false);
        const otherInstance = await database.connect();
        const a = new TypeOrmIdempotencyStore(dataSource, { tableName, sweepIntervalMs: 0, sweepBatchSize: 25 });
        const b = new TypeOrmIdempotencyStore(otherInstance, { tableName, sweepIntervalMs: 0, sweepBatchSize: 25 });

        // Meanwhile requests revive 40 of the expired keys: whether a sweeper got there first or not, they must
        // end up as live records.
        const revived = expiredKeys.filter((_, i) => i % 7 === 0).slice(0, 40);
        const [sweptByA, sweptByB, acquired] = await Promise.all([
          drain(a),
          drain(b),
          Promise.all(revived.map((key) => b.acquire({ namespace: 'n', scope: 'merchant-1', key }, attempt()))),
        ]);

        expect(acquired.every((result) => result.state === 'acquired')).toBe(true);
        expect(sweptByA + sweptByB).toBeGreaterThanOrEqual(300 - revived.length);
        expect(sweptByA + sweptByB).toBeLessThanOrEqual(300);
        expect(await countRows(dataSource, tableName)).toBe(liveKeys.length + revived.length);
        for (const key of [...revived.slice(0, 5), ...liveKeys.slice(0, 5)]) {
          expect(await a.acquire({ namespace: 'n', scope: 'merchant-1', key }, attempt())).toMatchObject({
            state: key.startsWith('live') ? 'completed' : 'in_flight',
          });
        }
      });

      it('refuses an over-long namespace, scope or key with a clear error, and writes nothing', async () => {
        const namespace = `limits-${randomUUID()}`.padEnd(100, 'n');
        const cases = [
          { id: { namespace: `${namespace}!`, scope: 's', key: 'k' }, message: /namespace is 101 bytes.*at most 100/ },
          { id: { namespace, scope: 's'.repeat(256), key: 'k' }, message: /scope is 256 bytes.*at most 255/ },
          // Counted in UTF-8 bytes, as a VARBINARY column counts them: 128 × 'é' is 256 bytes.
          { id: { namespace, scope: 'é'.repeat(128), key: 'k' }, message: /scope is 256 bytes.*at most 255/ },
          { id: { namespace, scope: 's', key: 'k'.repeat(256) }, message: /key is 256 bytes.*at most 255/ },
        ];
        for (const { id, message } of cases) {
          await expect(store.acquire(id, attempt())).rejects.toThrow(message);
          await expect(store.complete(id, randomUUID(), '"x"', 60_000)).rejects.toThrow(message);
          await expect(store.release(id, randomUUID())).rejects.toThrow(message);
        }
        await expect(
          store.acquire({ namespace, scope: 's', key: 'k' }, attempt({ token: 't'.repeat(256) })),
        ).rejects.toThrow(/token is 256 bytes/);
        const written = await dataSource
          .getRepository(IdempotencyRecordEntity)
          .createQueryBuilder('r')
          .where('r.namespace LIKE :prefix', { prefix: `${namespace.slice(0, 40)}%` })
          .getCount();
        expect(written).toBe(0);

        // The limits themselves are accepted, and kept apart byte for byte.
        const longest = { namespace, scope: 'é'.repeat(127) + 's', key: 'k'.repeat(255) };
        expect(await store.acquire(longest, attempt())).toEqual({ state: 'acquired', takenOver: false });
        expect(await store.acquire(longest, attempt())).toMatchObject({ state: 'in_flight' });
        expect(await store.acquire({ ...longest, scope: 'é'.repeat(127) + 't' }, attempt())).toMatchObject({
          state: 'acquired',
        });
      });

      // better-sqlite3 waits for a lock synchronously (its busy timeout), so no timer can cut that wait short there.
      (dialect === 'sqlite' ? it.skip : it)(
        'rejects a takeover still waiting for a row lock after callTimeout (PostgreSQL answers a live record without it)',
        async () => {
          const bounded = new TypeOrmIdempotencyStore(dataSource, { sweepIntervalMs: 0, callTimeout: 300 });
          const namespace = `call-timeout-${randomUUID()}`;
          const live = { namespace, scope: 'merchant-1', key: 'live' };
          const lapsed = { namespace, scope: 'merchant-1', key: 'lapsed' };
          expect(await bounded.acquire(live, attempt())).toEqual({ state: 'acquired', takenOver: false });
          expect(await bounded.acquire(lapsed, attempt({ leaseMs: 1 }))).toEqual({
            state: 'acquired',
            takenOver: false,
          });
          await sleep(20);
          // Another session holds both records' row locks, as a long transaction of another instance would.
          const holder = dataSource.createQueryRunner();
          await holder.startTransaction();
          try {
            await holder.manager
              .getRepository(IdempotencyRecordEntity)
              .createQueryBuilder('r')
              .setLock('pessimistic_write')
              .where('r.namespace = :namespace', { namespace })
              .getMany();
            // On PostgreSQL a request in flight (or a replay) is read, not locked: the answer does not wait for the
            // holder. (MySQL's dialect locks the row it reports, so there it waits like the takeover below.)
            if (dialect === 'postgres') {
              expect(await bounded.acquire(live, attempt())).toMatchObject({ state: 'in_flight' });
            }
            // Taking the lapsed lease over needs the row's lock, so that call waits, until callTimeout.
            const started = Date.now();
            await expect(bounded.acquire(lapsed, attempt())).rejects.toThrow(
              /acquire got no answer from the database within 300 ms/,
            );
            expect(Date.now() - started).toBeLessThan(2_000);
          } finally {
            await holder.rollbackTransaction();
            await holder.release();
          }
          // The abandoned call's statement ran once the lock was free: it took the record over, so it is in flight.
          expect(await bounded.acquire(lapsed, attempt())).toMatchObject({ state: 'in_flight' });
        },
      );

      (dialect === 'sqlite' ? it.skip : it)(
        'gives its pooled connection back, and runs nothing, when callTimeout passes while it waits for one',
        async () => {
          const onePool = await database.connect({ poolSize: 1 });
          const bounded = new TypeOrmIdempotencyStore(onePool, { sweepIntervalMs: 0, callTimeout: 300 });
          const id = { namespace: `pool-wait-${randomUUID()}`, scope: 'merchant-1', key: 'k' };
          // Someone else holds the pool's only connection, as a burst of requests would.
          const holder = onePool.createQueryRunner();
          await holder.connect();
          try {
            await expect(bounded.acquire(id, attempt())).rejects.toThrow(
              /acquire got no answer from the database within 300 ms/,
            );
          } finally {
            await holder.release();
          }
          // The abandoned acquire got the connection afterwards: it must neither have written the record nor kept
          // the connection (with a pool of one, a kept connection would time this out).
          expect(await bounded.acquire(id, attempt())).toEqual({ state: 'acquired', takenOver: false });
          expect(await bounded.acquire({ ...id, key: 'other' }, attempt())).toEqual({
            state: 'acquired',
            takenOver: false,
          });
        },
      );

      (dialect === 'sqlite' ? it : it.skip)(
        'waits for a unit of work holding the one SQLite connection instead of joining its transaction',
        async () => {
          const namespace = `sqlite-turn-${randomUUID()}`;
          const id = { namespace, scope: 'merchant-1', key: 'k' };
          const repository = dataSource.getRepository(IdempotencyRecordEntity);
          let acquired: Promise<unknown> | undefined;
          let settled = false;
          await sqliteConnectionMutex(dataSource)!.runExclusive(async () => {
            const runner = dataSource.createQueryRunner();
            await runner.startTransaction();
            try {
              acquired = store.acquire(id, attempt()).finally(() => (settled = true));
              await sleep(100);
              // Had it run at once, it would now be part of this transaction, and of its rollback.
              expect(settled).toBe(false);
            } finally {
              await runner.rollbackTransaction();
              await runner.release();
            }
          });
          expect(await acquired).toEqual({ state: 'acquired', takenOver: false });
          expect(await repository.countBy({ namespace })).toBe(1);
        },
      );

      it('sweeps on its interval as the module store, and stops when the app closes', async () => {
        const namespace = `timer-${randomUUID()}`;
        const id = { namespace, scope: 'merchant-1', key: 'k' };
        let app: INestApplicationContext | undefined;
        try {
          const moduleRef = await Test.createTestingModule({
            imports: [
              TypeOrmModule.forRoot({
                ...database.options,
                migrations: [CreateIdempotencyRecords1764259200000],
                migrationsRun: true,
              }),
              IdempotencyModule.forRootAsync({
                inject: [getDataSourceToken()],
                useFactory: (appDataSource: DataSource) => ({
                  store: new TypeOrmIdempotencyStore(appDataSource, { sweepIntervalMs: 50 }),
                }),
              }),
            ],
          }).compile();
          app = await moduleRef.init();
          const moduleStore = app.get(IdempotencyStore);
          expect(moduleStore).toBeInstanceOf(TypeOrmIdempotencyStore);
          await moduleStore.acquire(id, attempt({ leaseMs: 50, ttlMs: 100 }));
          const repository = dataSource.getRepository(IdempotencyRecordEntity);
          expect(await repository.countBy({ namespace })).toBe(1);
          await waitFor(async () => (await repository.countBy({ namespace })) === 0, 3_000);
        } finally {
          await app?.close();
        }
        // After close the timer is gone: an expired record stays until someone sweeps it.
        await store.acquire(id, attempt({ leaseMs: 50, ttlMs: 50 }));
        await sleep(300);
        expect(await dataSource.getRepository(IdempotencyRecordEntity).countBy({ namespace })).toBe(1);
      });
    });
  });
}

describe('TypeOrmIdempotencyStore construction', () => {
  const fakeDataSource = (type: string) => ({ options: { type } }) as unknown as DataSource;

  it('refuses a DataSource type it has no SQL for', () => {
    expect(() => new TypeOrmIdempotencyStore(fakeDataSource('mssql'))).toThrow(
      /supports postgres, mysql, mariadb and better-sqlite3.*mssql/,
    );
  });

  it('refuses nonsensical options', () => {
    expect(() => new TypeOrmIdempotencyStore(fakeDataSource('postgres'), { sweepBatchSize: 0 })).toThrow(
      /sweepBatchSize/,
    );
    expect(() => new TypeOrmIdempotencyStore(fakeDataSource('postgres'), { sweepIntervalMs: -1 })).toThrow(
      /sweepIntervalMs/,
    );
    expect(() => new TypeOrmIdempotencyStore(fakeDataSource('postgres'), { tableName: 'x; DROP TABLE y' })).toThrow(
      /tableName/,
    );
    expect(() => new TypeOrmIdempotencyStore(fakeDataSource('postgres'), { callTimeout: 0 })).toThrow(/callTimeout/);
  });
});

async function waitFor(condition: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await sleep(50);
  }
}
