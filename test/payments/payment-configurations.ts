import { TEST_SERVICES, TestService } from '../support/services';
import { createMariadbDatabase, createPostgresDatabase, createSqliteFile } from './payments-harness';

/** One way to run the app: a database and an idempotency store, made fresh for a suite. */
export interface PaymentsConfiguration {
  name: string;
  services: TestService[];
  prepare: () => Promise<{ env: Record<string, string>; cleanup: () => Promise<void> }>;
}

const sqlite =
  (store: string, extra: Record<string, string> = {}) =>
  async () => {
    const file = createSqliteFile();
    return { env: { DATABASE_URL: file.url, IDEMPOTENCY_STORE: store, ...extra }, cleanup: async () => file.remove() };
  };
const postgres =
  (store: string, extra: Record<string, string> = {}) =>
  async () => {
    const database = await createPostgresDatabase();
    return { env: { DATABASE_URL: database.url, IDEMPOTENCY_STORE: store, ...extra }, cleanup: database.drop };
  };
const mariadb = (store: string) => async () => {
  const database = await createMariadbDatabase();
  return { env: { DATABASE_URL: database.url, IDEMPOTENCY_STORE: store }, cleanup: database.drop };
};

/** Every database × store the e2e suite proves the API on. */
export const PAYMENTS_CONFIGURATIONS: PaymentsConfiguration[] = [
  { name: 'SQLite + TypeORM store', services: [], prepare: sqlite('typeorm') },
  { name: 'SQLite + Redis store', services: ['redis'], prepare: sqlite('redis', { REDIS_URL: TEST_SERVICES.redis }) },
  { name: 'SQLite + memory store', services: [], prepare: sqlite('memory') },
  {
    name: 'PostgreSQL + Redis store',
    services: ['postgres', 'redis'],
    prepare: postgres('redis', { REDIS_URL: TEST_SERVICES.redis }),
  },
  { name: 'PostgreSQL + TypeORM store', services: ['postgres'], prepare: postgres('typeorm') },
  { name: 'MariaDB + TypeORM store', services: ['mariadb'], prepare: mariadb('typeorm') },
];
