import { Controller, Post } from '@nestjs/common';
import { ExpressAdapter } from '@nestjs/platform-express';
import { randomBytes, randomUUID } from 'node:crypto';
import Redis from 'ioredis';
import request from 'supertest';
import { DataSource } from 'typeorm';
import {
  IdempotencyModule,
  IdempotencyModuleOptions,
  IdempotencyRecordId,
  IdempotencyStore,
  Idempotent,
  MemoryIdempotencyStore,
} from '@nest-idempotency/core';
import { RedisIdempotencyStore } from '@nest-idempotency/core/redis';
import {
  CreateIdempotencyRecords1764259200000,
  IdempotencyRecordEntity,
  TypeOrmIdempotencyStore,
} from '@nest-idempotency/core/typeorm';
import { RunningApp, startHttpApp } from '../support/http-app';
import { describeWithServices, TEST_SERVICES, TestService } from '../support/services';
import { createIsolatedDatabase, SqlDialect } from '../support/typeorm-data-sources';

const SCOPE = 'tenant-a';
const k1 = randomBytes(32);
const k2 = randomBytes(32);

let runs = 0;

/** About 4 KB of JSON: a page of line items, as a list endpoint answers. */
function largeBody(run: number) {
  const items = Array.from({ length: 40 }, (_, index) => ({
    id: `item-${run}-${index}`,
    name: 'Espresso machine',
    quantity: 1 + (index % 4),
    unitPrice: 24_900 + index,
    currency: 'EUR',
  }));
  return { run, items };
}

@Controller()
class EncodingController {
  @Post('large')
  @Idempotent()
  large() {
    return largeBody(++runs);
  }

  @Post('small')
  @Idempotent()
  small() {
    return { run: ++runs, secret: 'Espresso' };
  }
}

/** Only on a store that can run the transactional mode: start-up refuses the route on any other. */
@Controller()
class TransactionalController {
  @Post('transactional')
  @Idempotent({ transactional: true })
  transactional() {
    return largeBody(++runs);
  }
}

/** One backend: a fresh store on it for each app (as a restarted instance would open), and its raw records. */
interface Backend {
  store(): IdempotencyStore;
  /** The stored response of a record exactly as the backend holds it: Redis GET, SQL SELECT. */
  raw(id: IdempotencyRecordId): Promise<string>;
  transactional: boolean;
  close(): Promise<void>;
}

/** Lets the test name the key a record lives under, to GET it. */
class InspectableRedisStore extends RedisIdempotencyStore {
  keyOf(id: IdempotencyRecordId): string {
    return this.recordKey(id);
  }
}

async function memoryBackend(): Promise<Backend> {
  // One store across the apps of a test, as one backend: closing it stops only its timer, its records stay.
  const store = new MemoryIdempotencyStore();
  const raw = async (id: IdempotencyRecordId) => {
    const found = await store.acquire(id, { fingerprint: 'inspect', token: 'inspect', leaseMs: 1, ttlMs: 1 });
    if (found.state !== 'completed') throw new Error(`record ${id.key} is ${found.state}`);
    return found.response;
  };
  return { store: () => store, raw, transactional: false, close: async () => undefined };
}

async function redisBackend(): Promise<Backend> {
  const redis = new Redis(TEST_SERVICES.redis);
  const inspector = new InspectableRedisStore(redis);
  const keys: string[] = [];
  const raw = async (id: IdempotencyRecordId) => {
    keys.push(inspector.keyOf(id));
    const value = await redis.getBuffer(inspector.keyOf(id));
    if (!value) throw new Error(`no Redis record for ${id.key}`);
    return value.toString('utf8');
  };
  const close = async () => {
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
  };
  return { store: () => new RedisIdempotencyStore(TEST_SERVICES.redis), raw, transactional: false, close };
}

async function sqlBackend(dialect: SqlDialect): Promise<Backend> {
  const database = await createIsolatedDatabase(dialect);
  const dataSource: DataSource = await database.connect({
    entities: [IdempotencyRecordEntity],
    migrations: [CreateIdempotencyRecords1764259200000],
  });
  await dataSource.runMigrations();
  const raw = async (id: IdempotencyRecordId) => {
    const row = await dataSource.getRepository(IdempotencyRecordEntity).findOneBy(id);
    if (row?.response == null) throw new Error(`no completed row for ${id.key}`);
    return row.response;
  };
  const store = () => new TypeOrmIdempotencyStore(dataSource, { sweepIntervalMs: 0 });
  return { store, raw, transactional: dialect === 'postgres', close: () => database.drop() };
}

const BACKENDS: Array<[string, TestService[], () => Promise<Backend>]> = [
  ['memory', [], memoryBackend],
  ['redis', ['redis'], redisBackend],
  ['postgres', ['postgres'], () => sqlBackend('postgres')],
  ['mariadb', ['mariadb'], () => sqlBackend('mariadb')],
  ['sqlite', [], () => sqlBackend('sqlite')],
];

for (const [name, services, open] of BACKENDS) {
  describeWithServices(services, `stored responses compressed and encrypted on ${name}`, () => {
    let backend: Backend;
    let keyPrefix: string;
    const apps: RunningApp[] = [];

    beforeAll(async () => {
      backend = await open();
    }, 60_000);
    afterAll(() => backend?.close());
    beforeEach(() => {
      keyPrefix = `encoding-${randomUUID().slice(0, 8)}`;
    });
    afterEach(async () => {
      for (const app of apps.splice(0)) await app.close();
    });

    const start = async (options: Omit<IdempotencyModuleOptions, 'store' | 'keyPrefix' | 'scope'> = {}) => {
      const running = await startHttpApp(
        {
          imports: [
            IdempotencyModule.forRoot({
              ...options,
              store: backend.store(),
              keyPrefix,
              scope: () => SCOPE,
              ttl: 60_000,
            }),
          ],
          controllers: backend.transactional ? [EncodingController, TransactionalController] : [EncodingController],
        },
        () => new ExpressAdapter(),
      );
      apps.push(running);
      return running;
    };
    const post = (app: RunningApp, path: string, key: string) =>
      request(app.url).post(path).set('Idempotency-Key', key).send({});
    const raw = (key: string) => backend.raw({ namespace: keyPrefix, scope: SCOPE, key });

    it('stores a large response compressed, and replays it byte for byte; a small one stays plain', async () => {
      const app = await start();
      const first = await post(app, '/large', 'large-1');
      expect(first.status).toBe(201);
      expect(first.text.length).toBeGreaterThan(3000);
      const stored = await raw('large-1');
      expect(stored).toMatch(/~d[A-Za-z0-9+/]+={0,2}$/);
      expect(stored).not.toContain('Espresso');
      expect(stored.length).toBeLessThan(first.text.length / 2);
      const replay = await post(app, '/large', 'large-1');
      expect(replay.headers['idempotent-replayed']).toBe('true');
      expect(replay.text).toBe(first.text);

      await post(app, '/small', 'small-1');
      expect(await raw('small-1')).toContain('{"status":201,"headers":{');
    });

    it('replays a record written without compression after compression is turned on', async () => {
      const before = await start({ compression: false });
      const first = await post(before, '/large', 'plain-1');
      expect(await raw('plain-1')).toContain('"name":"Espresso machine"');
      await before.close();
      apps.splice(0);
      const after = await start();
      const replay = await post(after, '/large', 'plain-1');
      expect(replay.headers['idempotent-replayed']).toBe('true');
      expect(replay.text).toBe(first.text);
    });

    it('with encryption, keeps no plaintext in the record and replays it; rotation keeps old records readable', async () => {
      const underK1 = await start({ encryption: { keys: { k1 }, current: 'k1' } });
      const large = await post(underK1, '/large', 'sealed-large');
      const small = await post(underK1, '/small', 'sealed-small');
      for (const key of ['sealed-large', 'sealed-small']) {
        const stored = await raw(key);
        expect(stored).toMatch(/~ek1:[A-Za-z0-9+/]+={0,2}$/);
        expect(stored).not.toContain('Espresso');
      }
      await underK1.close();
      apps.splice(0);

      const rotated = await start({ encryption: { keys: { k1, k2: k2.toString('base64') }, current: 'k2' } });
      expect((await post(rotated, '/large', 'sealed-large')).text).toBe(large.text);
      expect((await post(rotated, '/small', 'sealed-small')).text).toBe(small.text);
      await post(rotated, '/large', 'sealed-k2');
      expect(await raw('sealed-k2')).toMatch(/~ek2:/);
      await rotated.close();
      apps.splice(0);

      // k1 dropped: its records cannot be opened. Fail closed: 503, never a second run of the handler.
      const runsBefore = runs;
      const withoutK1 = await start({ encryption: { keys: { k2 }, current: 'k2' } });
      const refused = await post(withoutK1, '/large', 'sealed-large');
      expect(refused.status).toBe(503);
      expect(refused.headers['retry-after']).toBe('1');
      expect(runs).toBe(runsBefore);
      expect((await post(withoutK1, '/large', 'sealed-k2')).headers['idempotent-replayed']).toBe('true');
      expect(runs).toBe(runsBefore);
    });

    it('answers 503 for a sealed record on an instance without encryption, and never runs the handler again, failOpen or not', async () => {
      const sealed = await start({ encryption: { keys: { k1 }, current: 'k1' } });
      await post(sealed, '/large', 'sealed-only');
      await sealed.close();
      apps.splice(0);
      const runsBefore = runs;
      const unsealed = await start();
      const refused = await post(unsealed, '/large', 'sealed-only');
      expect(refused.status).toBe(503);
      expect(runs).toBe(runsBefore);
      await unsealed.close();
      apps.splice(0);
      // failOpen runs the handler when the store cannot say whether the work happened; this record says it did.
      const failingOpen = await start({ failOpen: true });
      expect((await post(failingOpen, '/large', 'sealed-only')).status).toBe(503);
      expect(runs).toBe(runsBefore);
    });

    if (name === 'postgres') {
      it('stores compressed in the transactional mode too', async () => {
        const app = await start();
        const first = await post(app, '/transactional', 'tx-1');
        expect(first.status).toBe(201);
        expect(await raw('tx-1')).toMatch(/^~d/);
        expect((await post(app, '/transactional', 'tx-1')).text).toBe(first.text);
      });
    }
  });
}
