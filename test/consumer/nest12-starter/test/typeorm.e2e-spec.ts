import { INestApplication } from '@nestjs/common';
import {
  CreateIdempotencyRecords1764259200000,
  IDEMPOTENCY_RECORDS_TABLE,
  TypeOrmIdempotencyStore,
} from '@nest-idempotency/core/typeorm';
import { Client } from 'pg';
import { App } from 'supertest/types.js';
import { DataSource } from 'typeorm';
import { describeIdempotentOrders, POSTGRES_URL, startApp, unique } from './idempotent-orders.js';

describe('Idempotent orders on the TypeORM store, PostgreSQL (e2e)', () => {
  // A database of the run's own, with the package's migration applied, dropped afterwards.
  const database = unique('nest12_starter').replace('-', '_');
  const admin = new Client({ connectionString: POSTGRES_URL });
  let dataSource: DataSource | undefined;
  let app: INestApplication<App>;

  beforeAll(async () => {
    await admin.connect();
    await admin.query(`CREATE DATABASE ${database}`);
    const url = new URL(POSTGRES_URL);
    url.pathname = `/${database}`;
    dataSource = new DataSource({
      type: 'postgres',
      url: url.toString(),
      migrations: [CreateIdempotencyRecords1764259200000],
    });
    await dataSource.initialize();
    await dataSource.runMigrations();
    app = await startApp({ store: new TypeOrmIdempotencyStore(dataSource), keyPrefix: unique('nest12-starter') });
  });

  afterAll(async () => {
    await app?.close();
    if (dataSource?.isInitialized) await dataSource.destroy();
    await admin.query(`DROP DATABASE IF EXISTS ${database}`);
    await admin.end();
  });

  describeIdempotentOrders('TypeORM (PostgreSQL)', () => app);

  it('keeps the records in the database', async () => {
    const [{ count }] = await dataSource!.query(`SELECT count(*)::int AS count FROM ${IDEMPOTENCY_RECORDS_TABLE}`);
    expect(count).toBeGreaterThan(0);
  });
});
