import { randomUUID } from 'node:crypto';
import { Controller, INestApplication, Injectable, Post } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { getDataSourceToken, InjectDataSource, TypeOrmModule } from '@nestjs/typeorm';
import request from 'supertest';
import { DataSource, DataSourceOptions } from 'typeorm';
import {
  IdempotencyAcquireRequest,
  IdempotencyAcquireResult,
  IdempotencyForgetResult,
  IdempotencyModule,
  IdempotencyRecordId,
  IdempotencyRecordSnapshot,
  IdempotencyStore,
  Idempotent,
} from '@nest-idempotency/core';
import {
  CreateIdempotencyRecords1764259200000,
  IdempotencyTransaction,
  TypeOrmIdempotencyStore,
} from '@nest-idempotency/core/typeorm';
import { describeWithServices } from '../support/services';
import { createIsolatedDatabase, IsolatedDatabase } from '../support/typeorm-data-sources';
import { acquireRequest, describeIdempotencyStoreContract } from '@nest-idempotency/core/testing';
import { testRunner } from '../support/test-runner';

/** The store as the transactional mode calls it: every acquire says its work commits in this database. */
class DurableWithWorkStore extends IdempotencyStore {
  constructor(private readonly store: TypeOrmIdempotencyStore) {
    super();
  }

  acquire(id: IdempotencyRecordId, request: IdempotencyAcquireRequest): Promise<IdempotencyAcquireResult> {
    return this.store.acquire(id, { ...request, durableWithWork: true });
  }

  complete(id: IdempotencyRecordId, token: string, response: string, ttlMs: number): Promise<boolean> {
    return this.store.complete(id, token, response, ttlMs);
  }

  release(id: IdempotencyRecordId, token: string): Promise<boolean> {
    return this.store.release(id, token);
  }

  inspect(id: IdempotencyRecordId): Promise<IdempotencyRecordSnapshot | undefined> {
    return this.store.inspect(id);
  }

  forget(id: IdempotencyRecordId, options: { force: boolean }): Promise<IdempotencyForgetResult> {
    return this.store.forget(id, options);
  }
}

/** WAL flushes the server made while `work` ran, all of whose statements ran on the one connection of `dataSource`. */
async function walFlushesDuring(dataSource: DataSource, work: () => Promise<void>): Promise<number> {
  const flushes = async () => {
    // A backend hands its statistics over lazily; forced, they are in the view by the next statement.
    await dataSource.query('SELECT pg_stat_force_next_flush()');
    const [row] = await dataSource.query('SELECT wal_sync FROM pg_stat_wal');
    return Number(row.wal_sync);
  };
  const before = await flushes();
  await work();
  return (await flushes()) - before;
}

/** The ledger table, in the isolated database's schema (raw SQL does not go through the DataSource's schema). */
function ledgerTable(dataSource: DataSource): string {
  return `"${(dataSource.options as { schema?: string }).schema ?? 'public'}".durable_ledger`;
}

@Injectable()
class Ledger {
  constructor(
    private readonly transaction: IdempotencyTransaction,
    @InjectDataSource() private readonly dataSource: DataSource,
  ) {}

  /** One row, in the request's transaction when it has one. */
  async write(): Promise<void> {
    const manager = this.transaction.managerFor(this.dataSource) ?? this.dataSource.manager;
    await manager.query(`INSERT INTO ${ledgerTable(this.dataSource)} (at) VALUES (now())`);
  }
}

@Controller('ledger')
class LedgerController {
  constructor(private readonly ledger: Ledger) {}

  @Post('transactional')
  @Idempotent({ transactional: true })
  async transactional() {
    await this.ledger.write();
    return { ok: true };
  }

  @Post('plain')
  @Idempotent()
  async plain() {
    await this.ledger.write();
    return { ok: true };
  }
}

describeWithServices(['postgres'], 'TypeOrmIdempotencyStore on postgres, acquires durable with the work', () => {
  // The acquire statements that skip the flush wait are other statements: they keep the whole contract.
  const open = async () => {
    const database = await createIsolatedDatabase('postgres');
    const dataSource = await database.connect({ migrations: [CreateIdempotencyRecords1764259200000] });
    await dataSource.runMigrations();
    const store = new TypeOrmIdempotencyStore(dataSource, { sweepIntervalMs: 0 });
    return { store: new DurableWithWorkStore(store), close: () => database.drop() };
  };
  describeIdempotencyStoreContract('typeorm postgres, durableWithWork', { open }, testRunner);

  describe('flushes', () => {
    let database: IsolatedDatabase;
    let dataSource: DataSource;
    let store: TypeOrmIdempotencyStore;

    beforeAll(async () => {
      database = await createIsolatedDatabase('postgres');
      // One connection: every statement below, the statistics reads included, runs on the same backend.
      dataSource = await database.connect({ migrations: [CreateIdempotencyRecords1764259200000], poolSize: 1 });
      await dataSource.runMigrations();
      store = new TypeOrmIdempotencyStore(dataSource, { sweepIntervalMs: 0 });
    });
    afterAll(async () => {
      await database?.drop();
    });

    const acquireFresh = (count: number, overrides: Partial<IdempotencyAcquireRequest>) =>
      walFlushesDuring(dataSource, async () => {
        const namespace = `flushes-${randomUUID()}`;
        for (let i = 0; i < count; i++) {
          const result = await store.acquire({ namespace, scope: 's', key: `k-${i}` }, acquireRequest(overrides));
          expect(result).toEqual({ state: 'acquired', takenOver: false });
        }
      });

    it('commits a plain acquire with a flush of its own, one durable with the work without waiting for one', async () => {
      // Sequential commits cannot share a flush: each plain acquire waits for its own.
      expect(await acquireFresh(50, {})).toBeGreaterThanOrEqual(50);
      // The WAL writer still flushes in the background (every 200 ms by default), a few times at most.
      expect(await acquireFresh(50, { durableWithWork: true })).toBeLessThan(25);
    });

    it('leaves the pooled connection, which the application shares, committing synchronously', async () => {
      const namespace = `session-${randomUUID()}`;
      await store.acquire({ namespace, scope: 's', key: 'fresh' }, acquireRequest({ durableWithWork: true }));
      // The full decision statement too (the key exists now), in the same pooled connection.
      await store.acquire({ namespace, scope: 's', key: 'fresh' }, acquireRequest({ durableWithWork: true }));
      expect(await dataSource.query('SHOW synchronous_commit')).toEqual([{ synchronous_commit: 'on' }]);
      // And the application's own transaction on that connection still waits for its flush.
      const [{ setting }] = await dataSource.transaction((manager) =>
        manager.query("SELECT current_setting('synchronous_commit') AS setting"),
      );
      expect(setting).toBe('on');
    });
  });

  describe('the transactional mode', () => {
    let database: IsolatedDatabase;
    let app: INestApplication;
    let dataSource: DataSource;

    beforeAll(async () => {
      database = await createIsolatedDatabase('postgres');
      const moduleRef = await Test.createTestingModule({
        imports: [
          // One connection, so the statistics read below see every statement the requests ran.
          TypeOrmModule.forRoot({
            ...database.options,
            poolSize: 1,
            migrations: [CreateIdempotencyRecords1764259200000],
            migrationsRun: true,
          } as DataSourceOptions),
          IdempotencyModule.forRootAsync({
            inject: [getDataSourceToken()],
            useFactory: (source: DataSource) => ({
              store: new TypeOrmIdempotencyStore(source, { sweepIntervalMs: 0 }),
              scope: () => 'ledger-tests',
            }),
          }),
        ],
        controllers: [LedgerController],
        providers: [Ledger],
      }).compile();
      app = moduleRef.createNestApplication({ logger: false });
      await app.init();
      dataSource = app.get(DataSource);
      await dataSource.query(
        `CREATE TABLE ${ledgerTable(dataSource)} (id serial PRIMARY KEY, at timestamptz NOT NULL)`,
      );
    });
    afterAll(async () => {
      await app?.close();
      await database?.drop();
    });

    const post = (route: string, count: number) =>
      walFlushesDuring(dataSource, async () => {
        for (let i = 0; i < count; i++) {
          const response = await request(app.getHttpServer())
            .post(`/ledger/${route}`)
            .set('Idempotency-Key', `${route}-${randomUUID()}`);
          expect(response.status).toBe(201);
        }
      });

    it('waits for one flush per request (its transaction), not one more for the acquire', async () => {
      // Plain: the acquire, the handler's insert and the completion each commit and flush.
      expect(await post('plain', 20)).toBeGreaterThanOrEqual(60);
      // Transactional: the acquire commits without waiting; the transaction (write + record) flushes once.
      const flushes = await post('transactional', 20);
      expect(flushes).toBeGreaterThanOrEqual(20);
      expect(flushes).toBeLessThan(32);
      const [{ rows }] = await dataSource.query(`SELECT count(*)::int AS rows FROM ${ledgerTable(dataSource)}`);
      expect(rows).toBe(40);
    });
  });
});
