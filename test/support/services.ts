import { connect as connectAmqp } from 'amqplib';
import Redis from 'ioredis';
import mysql from 'mysql2/promise';
import { connect as connectNats } from 'nats';
import { Client } from 'pg';
import { recordSkippedSuite } from './skipped-suites';

/** The servers the suites talk to, and where (overridable, for a machine whose services sit elsewhere). */
export const TEST_SERVICES = {
  redis: process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379',
  postgres: process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test',
  mariadb: process.env.TEST_MARIADB_URL ?? 'mysql://root@127.0.0.1:3306/test',
  rabbitmq: process.env.TEST_RABBITMQ_URL ?? 'amqp://guest:guest@127.0.0.1:5672',
  nats: process.env.TEST_NATS_URL ?? 'nats://127.0.0.1:4222',
} as const;

export type TestService = keyof typeof TEST_SERVICES;

const AVAILABLE_ENV = 'IDEMPOTENCY_TEST_SERVICES';

/** Asks each server for an answer within two seconds; returns why each unreachable one failed. */
export async function probeServices(): Promise<Record<TestService, string | null>> {
  const probes: Record<TestService, () => Promise<unknown>> = {
    redis: async () => {
      const redis = new Redis(TEST_SERVICES.redis, {
        lazyConnect: true,
        connectTimeout: 2000,
        maxRetriesPerRequest: 0,
        retryStrategy: () => null,
      });
      try {
        await redis.connect();
        await redis.ping();
      } finally {
        redis.disconnect();
      }
    },
    postgres: async () => {
      const client = new Client({ connectionString: TEST_SERVICES.postgres, connectionTimeoutMillis: 2000 });
      await client.connect();
      await client.query('select 1').finally(() => client.end());
    },
    mariadb: async () => {
      const connection = await mysql.createConnection({ uri: TEST_SERVICES.mariadb, connectTimeout: 2000 });
      await connection.query('select 1').finally(() => connection.end());
    },
    rabbitmq: async () => {
      const connection = await connectAmqp(TEST_SERVICES.rabbitmq, { timeout: 2000 });
      await connection.close();
    },
    nats: async () => {
      const connection = await connectNats({ servers: TEST_SERVICES.nats, timeout: 2000, reconnect: false });
      await connection.flush();
      await connection.close();
    },
  };
  const entries = await Promise.all(
    Object.entries(probes).map(async ([name, probe]) => {
      try {
        await probe();
        return [name, null] as const;
      } catch (error) {
        return [name, error instanceof Error ? error.message || error.constructor.name : String(error)] as const;
      }
    }),
  );
  return Object.fromEntries(entries) as Record<TestService, string | null>;
}

/** Records, for the test files, which services answered (called by the global setup). */
export function publishAvailableServices(available: TestService[]): void {
  process.env[AVAILABLE_ENV] = available.join(',');
}

/** Whether the global setup found the service answering. */
export function isServiceAvailable(service: TestService): boolean {
  return (process.env[AVAILABLE_ENV] ?? '').split(',').includes(service);
}

/**
 * `describe` for a suite that needs real servers. Where one is missing the suite is skipped with a message
 * saying which and why; under CI=true the global setup has already failed the run instead.
 */
export function describeWithServices(services: TestService[], name: string, body: () => void): void {
  const missing = services.filter((service) => !isServiceAvailable(service));
  if (missing.length === 0) {
    describe(name, body);
    return;
  }
  const reason = unreachable(missing);
  recordSkippedSuite(name, reason);
  describe.skip(`${name} [SKIPPED: ${reason}]`, body);
}

/**
 * The rows of a `describe.each` (stores, databases) that need `services`: all of them, or none, the skip recorded
 * under `name` so that the run's last line names it.
 */
export function rowsNeeding<Row>(services: TestService[], name: string, rows: Row[]): Row[] {
  const missing = services.filter((service) => !isServiceAvailable(service));
  if (missing.length === 0) return rows;
  recordSkippedSuite(name, unreachable(missing));
  return [];
}

/** Whether every one of `services` answers; when one does not, `name`'s skip is recorded for the run's last line. */
export function servicesAvailableFor(name: string, services: TestService[]): boolean {
  const missing = services.filter((service) => !isServiceAvailable(service));
  if (missing.length > 0) recordSkippedSuite(name, unreachable(missing));
  return missing.length === 0;
}

function unreachable(services: TestService[]): string {
  return `${services.join(', ')} not reachable`;
}
