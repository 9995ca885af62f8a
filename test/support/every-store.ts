import { IdempotencyStore, MemoryIdempotencyStore } from '@nest-idempotency/core';
import { RedisIdempotencyStore } from '@nest-idempotency/core/redis';
import { CreateIdempotencyRecords1764259200000, TypeOrmIdempotencyStore } from '@nest-idempotency/core/typeorm';
import { TEST_SERVICES, TestService } from './services';
import { createIsolatedDatabase, SqlDialect } from './typeorm-data-sources';

/** A store a suite runs its transport on, and the servers it needs (the suite is skipped, named, without them). */
export interface StoreUnderTest {
  name: string;
  services: TestService[];
  /**
   * A fresh store: its own database for SQL, migrated. The app's module starts and closes the store; `drop` removes
   * what the store was given, once the app is closed.
   */
  open(): Promise<{ store: IdempotencyStore; drop(): Promise<void> }>;
}

const sqlStore =
  (dialect: SqlDialect): StoreUnderTest['open'] =>
  async () => {
    const database = await createIsolatedDatabase(dialect);
    const dataSource = await database.connect({ migrations: [CreateIdempotencyRecords1764259200000] });
    await dataSource.runMigrations();
    return { store: new TypeOrmIdempotencyStore(dataSource, { sweepIntervalMs: 0 }), drop: () => database.drop() };
  };

/** Every store the library ships, each engine of the TypeORM one counted: memory, Redis, PostgreSQL, MariaDB, SQLite. */
export const EVERY_STORE: StoreUnderTest[] = [
  { name: 'memory', services: [], open: async () => ({ store: new MemoryIdempotencyStore(), drop: async () => {} }) },
  {
    name: 'Redis',
    services: ['redis'],
    open: async () => ({ store: new RedisIdempotencyStore(TEST_SERVICES.redis), drop: async () => {} }),
  },
  { name: 'PostgreSQL', services: ['postgres'], open: sqlStore('postgres') },
  { name: 'MariaDB', services: ['mariadb'], open: sqlStore('mariadb') },
  { name: 'SQLite', services: [], open: sqlStore('sqlite') },
];
