/*
 * Runs the fixture app on each store through the package's public entry points, over real HTTP, and checks
 * what the README promises: a first request runs, a duplicate is replayed, a changed body is refused with 422;
 * and the transactional mode, whose handler injects IdempotencyTransaction as docs/transactional.md shows; and the client entry
 * against the app on the memory store (./client.ts).
 * Prints one line per check and exits non-zero when any fails.
 */
import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { NestFactory } from '@nestjs/core';
import { IdempotencyStore, MemoryIdempotencyStore } from '@nest-idempotency/core';
import { RedisIdempotencyStore } from '@nest-idempotency/core/redis';
import { CreateIdempotencyRecords1764259200000, TypeOrmIdempotencyStore } from '@nest-idempotency/core/typeorm';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { exerciseClient } from './client';
import { OrdersAppModule, OrdersController } from './orders';
import { TransactionalOrdersAppModule } from './transactional-orders';

const run = randomBytes(4).toString('hex');
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const POSTGRES_URL = process.env.POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
let failures = 0;

function check(name: string, ok: boolean, detail = ''): void {
  if (!ok) failures++;
  console.log(`${ok ? 'ok  ' : 'FAIL'} - ${name}${ok || !detail ? '' : ` (${detail})`}`);
}

async function post(url: string, key: string, item: string) {
  const response = await fetch(`${url}/orders`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'idempotency-key': key },
    body: JSON.stringify({ item }),
  });
  return {
    status: response.status,
    replayed: response.headers.get('idempotent-replayed'),
    body: await response.json(),
  };
}

async function exercise(storeName: string, store: IdempotencyStore): Promise<void> {
  const app = await NestFactory.create(OrdersAppModule.on(store, `consumer-${run}-${storeName}`), {
    logger: ['error'],
  });
  await app.listen(0, '127.0.0.1');
  try {
    const url = (await app.getUrl()).replace('[::1]', '127.0.0.1');
    await replayAndMismatch(storeName, url);
    check(`${storeName}: the handler ran once`, app.get(OrdersController).runs === 1);
    if (storeName === 'memory') {
      await exerciseClient(url, run, check);
      check('client: the handler ran once more, for the client', app.get(OrdersController).runs === 2);
    }
  } finally {
    await app.close();
  }
}

/** The transactional mode: the order row and the record commit together; a replay writes no second row. */
async function exerciseTransactional(dataSource: DataSource): Promise<void> {
  await dataSource.query('CREATE TABLE consumer_orders (id serial PRIMARY KEY, item text NOT NULL)');
  const app = await NestFactory.create(TransactionalOrdersAppModule.on(dataSource, `consumer-${run}-tx`), {
    logger: ['error'],
  });
  await app.listen(0, '127.0.0.1');
  try {
    const url = (await app.getUrl()).replace('[::1]', '127.0.0.1');
    const first = await replayAndMismatch('typeorm, transactional', url);
    check(
      'typeorm, transactional: the handler wrote in the idempotency transaction',
      first.body.inTransaction === true,
      JSON.stringify(first.body),
    );
    const [{ count }] = await dataSource.query('SELECT count(*)::int AS count FROM consumer_orders');
    check('typeorm, transactional: one order row', count === 1, `${count} rows`);
  } finally {
    await app.close();
  }
}

async function replayAndMismatch(storeName: string, url: string) {
  const first = await post(url, 'k1', 'book');
  check(
    `${storeName}: the first request runs (201)`,
    first.status === 201 && first.replayed === null,
    JSON.stringify(first),
  );
  const again = await post(url, 'k1', 'book');
  check(
    `${storeName}: the duplicate is replayed (201, Idempotent-Replayed: true, same body)`,
    again.status === 201 && again.replayed === 'true' && JSON.stringify(again.body) === JSON.stringify(first.body),
    JSON.stringify(again),
  );
  const changed = await post(url, 'k1', 'lamp');
  check(
    `${storeName}: the same key with another body is refused (422)`,
    changed.status === 422,
    JSON.stringify(changed),
  );
  return first;
}

/** A PostgreSQL database of the run's own, with the package's migration applied, dropped afterwards. */
async function withPostgres(work: (dataSource: DataSource) => Promise<void>): Promise<void> {
  const database = `consumer_${run}`;
  const admin = new Client({ connectionString: POSTGRES_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${database}`);
  const url = new URL(POSTGRES_URL);
  url.pathname = `/${database}`;
  const dataSource = new DataSource({
    type: 'postgres',
    url: url.toString(),
    migrations: [CreateIdempotencyRecords1764259200000],
  });
  try {
    await dataSource.initialize();
    await dataSource.runMigrations();
    await work(dataSource);
  } finally {
    if (dataSource.isInitialized) await dataSource.destroy();
    await admin.query(`DROP DATABASE IF EXISTS ${database}`);
    await admin.end();
  }
}

async function main(): Promise<void> {
  await exercise('memory', new MemoryIdempotencyStore());
  await exercise('redis', new RedisIdempotencyStore(REDIS_URL));
  await withPostgres(async (dataSource) => {
    await exercise('typeorm', new TypeOrmIdempotencyStore(dataSource));
    await exerciseTransactional(dataSource);
  });
}

main().then(
  () => {
    console.log(failures ? `${failures} check(s) failed` : 'all checks passed');
    process.exit(failures ? 1 : 0);
  },
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
