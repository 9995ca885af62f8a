import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { DataSource } from 'typeorm';
import { IdempotencyAcquireRequest, IdempotencyRecordId } from '@nest-idempotency/core';
import { CreateIdempotencyRecords1764259200000, TypeOrmIdempotencyStore } from '@nest-idempotency/core/typeorm';
import { describeWithServices } from '../support/services';
import { createIsolatedDatabase, IsolatedDatabase } from '../support/typeorm-data-sources';
import { TcpProxy } from '../support/tcp-proxy';

/**
 * The store runs its statements on the driver's own pooled connections, through the drivers' callbacks: a connection
 * the server ends under a running statement must fail that call alone, leave the pool (never to serve another call),
 * and crash nothing; the next calls run on new connections. A pool that can give no connection makes an
 * IdempotencyStoreUnreachableError, as before.
 */
const request = (): IdempotencyAcquireRequest => ({
  fingerprint: 'f',
  token: randomUUID(),
  leaseMs: 5_000,
  ttlMs: 60_000,
});
const newId = (): IdempotencyRecordId => ({ namespace: 'lost', scope: '', key: randomUUID() });

interface Engine {
  dialect: 'postgres' | 'mariadb';
  /** Opens a transaction on its own connection that inserts `id`'s row and holds it uncommitted. */
  holdRow(dataSource: DataSource, id: IdempotencyRecordId): Promise<{ release(): Promise<void> }>;
  /** Ends, from the server, the connection whose statement waits for a row lock; resolves once it found one. */
  endWaitingConnection(admin: DataSource): Promise<void>;
  /** Ends, from the server, every connection of the DataSource `connectionName` names; resolves how many. */
  endIdleConnections(admin: DataSource): Promise<number>;
  /** DataSource options that name its connections on the server. */
  connectionName: object;
  /** The code of an error by which the server ended a connection. */
  endedConnection: (error: Error & { code?: string }) => boolean;
}

const ENGINES: Engine[] = [
  {
    dialect: 'postgres',
    async holdRow(dataSource, id) {
      const runner = dataSource.createQueryRunner();
      await runner.startTransaction();
      await runner.query(
        `INSERT INTO "${(dataSource.options as { schema: string }).schema}".idempotency_records
           (namespace, scope, "key", fingerprint, token, lease_until, expires_at)
         VALUES ($1, $2, $3, 'f', 'held', 0, 0)`,
        [id.namespace, id.scope, id.key],
      );
      return { release: async () => (await runner.rollbackTransaction(), await runner.release()) };
    },
    async endWaitingConnection(admin) {
      for (;;) {
        const ended = await admin.query(
          `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
           WHERE application_name = 'lost-connections' AND wait_event_type = 'Lock'`,
        );
        if (ended.length > 0) return;
        await sleep(20);
      }
    },
    async endIdleConnections(admin) {
      const ended: unknown[] = await admin.query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'lost-connections-idle'",
      );
      return ended.length;
    },
    connectionName: { applicationName: 'lost-connections-idle' },
    endedConnection: (error) => error.code === '57P01',
  },
  {
    dialect: 'mariadb',
    async holdRow(dataSource, id) {
      const runner = dataSource.createQueryRunner();
      await runner.startTransaction();
      await runner.query(
        'INSERT INTO idempotency_records (namespace, scope, `key`, fingerprint, token, lease_until, expires_at) ' +
          "VALUES (?, ?, ?, 'f', 'held', 0, 0)",
        [id.namespace, id.scope, id.key],
      );
      return { release: async () => (await runner.rollbackTransaction(), await runner.release()) };
    },
    async endWaitingConnection(admin) {
      for (;;) {
        const waiting: { ID: number }[] = await admin.query(
          "SELECT ID FROM information_schema.PROCESSLIST WHERE DB = DATABASE() AND ID <> CONNECTION_ID() AND INFO LIKE '%ON DUPLICATE KEY%'",
        );
        if (waiting.length > 0) {
          await admin.query(`KILL ${Number(waiting[0].ID)}`);
          return;
        }
        await sleep(20);
      }
    },
    async endIdleConnections(admin) {
      // The store's connections are the only ones of this database asleep between statements.
      const idle: { ID: number }[] = await admin.query(
        "SELECT ID FROM information_schema.PROCESSLIST WHERE DB = DATABASE() AND ID <> CONNECTION_ID() AND COMMAND = 'Sleep'",
      );
      for (const { ID } of idle) await admin.query(`KILL ${Number(ID)}`);
      return idle.length;
    },
    connectionName: {},
    endedConnection: (error) => error.code === 'PROTOCOL_CONNECTION_LOST' || error.code === 'ER_CONNECTION_KILLED',
  },
];

for (const engine of ENGINES) {
  describeWithServices([engine.dialect], `TypeOrmIdempotencyStore (${engine.dialect}): lost connections`, () => {
    let database: IsolatedDatabase;
    let dataSource: DataSource;
    let admin: DataSource;
    let proxy: TcpProxy | undefined;

    beforeAll(async () => {
      database = await createIsolatedDatabase(engine.dialect);
      const extra = engine.dialect === 'postgres' ? { applicationName: 'lost-connections' } : {};
      dataSource = await database.connect({ ...extra, poolSize: 2 });
      admin = await database.connect({ poolSize: 2 });
      const runner = dataSource.createQueryRunner();
      await new CreateIdempotencyRecords1764259200000().up(runner).finally(() => runner.release());
    });

    afterAll(async () => {
      await proxy?.close();
      await database.drop();
    });

    it('fails only the call whose connection the server ended mid-statement, and runs the next ones on new connections', async () => {
      const store = new TypeOrmIdempotencyStore(dataSource, { sweepIntervalMs: 0 });
      const id = newId();
      const held = await engine.holdRow(admin, id);
      try {
        // Waits for the held row's lock, on one of the store's pooled connections, until the server ends it.
        const waiting = store.acquire(id, request());
        await engine.endWaitingConnection(admin);
        const error = await waiting.then(
          () => undefined,
          (failure: Error) => failure,
        );
        expect(error).toBeDefined();
        expect(engine.endedConnection(error!)).toBe(true);
      } finally {
        await held.release();
      }
      // More calls than the pool has connections: had the ended one gone back to the pool, one of them would fail.
      for (let i = 0; i < 4; i++) {
        const fresh = newId();
        const attempt = request();
        await expect(store.acquire(fresh, attempt)).resolves.toEqual({ state: 'acquired', takenOver: false });
        await expect(store.complete(fresh, attempt.token, '"done"', 60_000)).resolves.toBe(true);
      }
      await expect(store.acquire(id, request())).resolves.toEqual({ state: 'acquired', takenOver: false });
    });

    it('crashes nothing when the server ends its idle pooled connections, and runs the next calls on new ones', async () => {
      // A DataSource only the store uses, so no TypeORM query runner has prepared its connections before.
      const own = await database.connect({ ...engine.connectionName, poolSize: 2 });
      const store = new TypeOrmIdempotencyStore(own, { sweepIntervalMs: 0 });
      const calls = () =>
        Promise.all(
          [newId(), newId()].map(async (id) => {
            const attempt = request();
            await expect(store.acquire(id, attempt)).resolves.toEqual({ state: 'acquired', takenOver: false });
            await expect(store.complete(id, attempt.token, '"done"', 60_000)).resolves.toBe(true);
          }),
        );
      await calls();
      expect(await engine.endIdleConnections(admin)).toBeGreaterThan(0);
      // Long enough for the ends to reach the driver, whose connections would throw them with no listener.
      await sleep(300);
      await calls();
    });

    it('marks a call for which the pool could give no connection as unreachable', async () => {
      // The isolated place's URL, its host and port those of the proxy.
      const url = new URL((database.options as { url: string }).url);
      proxy = new TcpProxy({
        host: url.hostname,
        port: Number(url.port || (engine.dialect === 'postgres' ? 5432 : 3306)),
      });
      await proxy.start();
      url.port = String(proxy.port);
      const cut = await database.connect({ url: url.toString(), poolSize: 1 } as never);
      const store = new TypeOrmIdempotencyStore(cut, { sweepIntervalMs: 0, callTimeout: 2_000 });
      const id = newId();
      const attempt = request();
      await expect(store.acquire(id, attempt)).resolves.toEqual({ state: 'acquired', takenOver: false });
      await proxy.cut();
      // The pooled connection the cut reset is noticed, then a new one is refused.
      await sleep(100);
      const failure = await store.complete(id, attempt.token, '"done"', 60_000).then(
        () => undefined,
        (error: Error & { notSent?: boolean }) => error,
      );
      expect(failure).toMatchObject({ name: 'IdempotencyStoreUnreachableError', notSent: true });
    });
  });
}
