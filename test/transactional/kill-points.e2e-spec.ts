import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client } from 'pg';
import request from 'supertest';
import Database from 'better-sqlite3';
import { describeWithServices, TEST_SERVICES, TestService } from '../support/services';
import {
  createPostgresDatabase,
  createSqliteFile,
  PaymentsProcess,
  spawnTypeScriptApp,
} from '../payments/payments-harness';
import { KILL_HEADER, KILL_POINTS } from './kill-point-app/kill-points';

const FIXTURE = 'test/transactional/kill-point-app/main.ts';
const LEASE_CONFLICT = 'A request with this idempotency key is already being processed. Retry later.';

interface Ledger {
  balance(): Promise<number>;
  payments(reference: string): Promise<Array<{ id: number }>>;
  close(): Promise<void>;
}

interface Mode {
  name: string;
  services: TestService[];
  prepare(): Promise<{ env: Record<string, string>; ledger: () => Promise<Ledger>; cleanup: () => Promise<void> }>;
}

async function postgresLedger(url: string): Promise<Ledger> {
  const client = new Client({ connectionString: url });
  await client.connect();
  return {
    balance: async () => (await client.query('SELECT balance FROM kp_accounts WHERE id = 1')).rows[0].balance,
    payments: async (reference) =>
      (await client.query('SELECT id FROM kp_payments WHERE reference = $1', [reference])).rows,
    close: () => client.end(),
  };
}

function sqliteLedger(path: string): Ledger {
  const db = new Database(path, { readonly: true });
  return {
    balance: async () =>
      (db.prepare('SELECT balance FROM kp_accounts WHERE id = 1').get() as { balance: number }).balance,
    payments: async (reference) =>
      db.prepare('SELECT id FROM kp_payments WHERE reference = ?').all(reference) as Array<{ id: number }>,
    close: async () => {
      db.close();
    },
  };
}

const MODES: Mode[] = [
  {
    name: 'the transactional TypeORM store on PostgreSQL',
    services: ['postgres'],
    prepare: async () => {
      const database = await createPostgresDatabase();
      return {
        env: { KP_DATABASE_URL: database.url, KP_STORE: 'typeorm' },
        ledger: () => postgresLedger(database.url),
        cleanup: database.drop,
      };
    },
  },
  {
    name: 'the transactional TypeORM store on SQLite',
    services: [],
    prepare: async () => {
      const file = createSqliteFile();
      const path = file.url.slice('sqlite:'.length);
      return {
        env: { KP_DATABASE_URL: file.url, KP_STORE: 'typeorm' },
        ledger: async () => sqliteLedger(path),
        cleanup: async () => file.remove(),
      };
    },
  },
  {
    // The store outside the business database: a crash between the business commit and the record's
    // completion leaves a debit without a record. The retry runs again, finds the payment by its UNIQUE
    // reference, and answers with it: one debit, and the client still gets its payment.
    name: 'the Redis store (PostgreSQL for the business data)',
    services: ['postgres', 'redis'],
    prepare: async () => {
      const database = await createPostgresDatabase();
      return {
        env: { KP_DATABASE_URL: database.url, KP_STORE: 'redis', KP_REDIS_URL: TEST_SERVICES.redis },
        ledger: () => postgresLedger(database.url),
        cleanup: database.drop,
      };
    },
  },
];

for (const mode of MODES) {
  describeWithServices(mode.services, `a process killed mid-request, with ${mode.name}`, () => {
    let env: Record<string, string>;
    let ledger: Ledger;
    let cleanup: () => Promise<void>;
    let app: PaymentsProcess | undefined;

    beforeAll(async () => {
      const prepared = await mode.prepare();
      env = prepared.env;
      cleanup = prepared.cleanup;
      app = await spawnTypeScriptApp(FIXTURE, env);
      ledger = await prepared.ledger();
    }, 60_000);
    afterAll(async () => {
      await app?.close();
      await ledger?.close();
      await cleanup?.();
    });

    const exited = (process: PaymentsProcess) =>
      process.child.exitCode !== null || process.child.signalCode !== null
        ? Promise.resolve()
        : new Promise<void>((resolve) => process.child.once('exit', () => resolve()));

    it.each(KILL_POINTS)(
      'killed %s: one payment, one debit, and the retry gets the original payment',
      async (point) => {
        const key = randomUUID();
        const body = { reference: `ref-${key}`, amount: 100 };
        const before = await ledger.balance();

        const victim = app!;
        await request(victim.url)
          .post('/payments')
          .set('Idempotency-Key', key)
          .set(KILL_HEADER, point)
          .send(body)
          .catch(() => undefined);
        await exited(victim);
        expect(victim.child.signalCode).toBe('SIGKILL');

        // The client retries against a new instance until it gets a definite answer (a live lease is a 409).
        app = await spawnTypeScriptApp(FIXTURE, env);
        let retry = await request(app.url).post('/payments').set('Idempotency-Key', key).send(body);
        for (
          let attempt = 0;
          retry.status === 409 && retry.body.message === LEASE_CONFLICT && attempt < 40;
          attempt++
        ) {
          expect(retry.headers['retry-after']).toBeDefined();
          await sleep(250);
          retry = await request(app.url).post('/payments').set('Idempotency-Key', key).send(body);
        }

        const rows = await ledger.payments(body.reference);
        expect(rows).toHaveLength(1);
        expect(await ledger.balance()).toBe(before - 100);
        expect(retry.status).toBe(201);
        expect(retry.body).toMatchObject({ id: rows[0].id, reference: body.reference, amount: 100 });
      },
      90_000,
    );
  });
}
