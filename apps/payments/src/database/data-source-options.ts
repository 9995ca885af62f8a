import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DataSourceOptions } from 'typeorm';
import { CreateIdempotencyRecords1764259200000, IdempotencyRecordEntity } from '@nest-idempotency/core/typeorm';
import { DatabaseConfig } from '../config/app-config';
import { Customer } from '../customers/customer.entity';
import { Payment } from '../payments/payment.entity';
import { Refund } from '../payments/refund.entity';
import { CreatePaymentsSchema1764201600000 } from './migrations/1764201600000-create-payments-schema';
import { AddRefundRequestKey1764288000000 } from './migrations/1764288000000-add-refund-request-key';
import { DATABASE_TIMEOUTS, DatabaseTimeouts } from './database-timeouts';
import { ByteExactIdentifiers1764374400000 } from './migrations/1764374400000-byte-exact-identifiers';
import { AddCustomerRequestKey1764460800000 } from './migrations/1764460800000-add-customer-request-key';
import { boundedMysql2 } from './mysql-session-bounds';
import { mysqlServerType } from './mysql-server-type';

/** Every entity of the app, the idempotency record included (its table comes from the library's migration). */
export const PAYMENTS_ENTITIES = [Customer, Payment, Refund, IdempotencyRecordEntity];

/** Every migration, in order; they run at start-up and through the TypeORM CLI (ormconfig.ts). */
export const PAYMENTS_MIGRATIONS = [
  CreatePaymentsSchema1764201600000,
  CreateIdempotencyRecords1764259200000,
  AddRefundRequestKey1764288000000,
  ByteExactIdentifiers1764374400000,
  AddCustomerRequestKey1764460800000,
];

/**
 * TypeORM options for the configured database. Never `synchronize`: the schema comes from migrations. The app
 * runs with every lock, statement and pool wait bounded (`timeouts`, see database-timeouts.ts); the TypeORM CLI
 * passes null (no bounds), so that a long migration is not cut short.
 */
export async function dataSourceOptions(
  database: DatabaseConfig,
  timeouts: DatabaseTimeouts | null = DATABASE_TIMEOUTS,
): Promise<DataSourceOptions> {
  const common = {
    entities: PAYMENTS_ENTITIES,
    migrations: PAYMENTS_MIGRATIONS,
    synchronize: false,
    logging: false,
  } as const;
  switch (database.type) {
    case 'sqlite':
      if (database.path !== ':memory:') mkdirSync(dirname(database.path), { recursive: true });
      return {
        ...common,
        type: 'better-sqlite3',
        database: database.path,
        enableWAL: database.path !== ':memory:',
        ...(timeouts && { timeout: timeouts.sqliteBusyMs }),
      };
    case 'postgres':
      return {
        ...common,
        type: 'postgres',
        url: database.url,
        // node-postgres sends the three server-side bounds as start-up parameters of every connection, so they hold
        // for each session without a statement of their own; pg-pool's connectionTimeoutMillis bounds the wait for
        // a client, free or new.
        extra: {
          max: database.poolSize,
          connectionTimeoutMillis: timeouts?.poolWaitMs ?? 5_000,
          ...(timeouts && {
            lock_timeout: timeouts.lockWaitMs,
            statement_timeout: timeouts.statementMs,
            idle_in_transaction_session_timeout: timeouts.idleInTransactionMs,
            query_timeout: timeouts.clientQueryMs,
          }),
        },
      };
    case 'mysql':
      return {
        ...common,
        // A MariaDB behind a mysql:// URL is still told to TypeORM as what it is (see mysqlServerType).
        type: await mysqlServerType(database.url),
        url: database.url,
        extra: { connectionLimit: database.poolSize },
        connectTimeout: timeouts?.poolWaitMs ?? 5_000,
        supportBigNumbers: true,
        bigNumberStrings: true,
        ...(timeouts && {
          driver: boundedMysql2(timeouts),
          // mysql2's per-query timeout: gives up on a server or link that stopped answering.
          enableQueryTimeout: true,
          maxQueryExecutionTime: timeouts.clientQueryMs,
        }),
      };
  }
}
