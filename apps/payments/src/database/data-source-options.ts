import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DataSourceOptions } from 'typeorm';
import { CreateIdempotencyRecords1764259200000, IdempotencyRecordEntity } from '@app/idempotency/typeorm';
import { DatabaseConfig } from '../config/app-config';
import { Customer } from '../customers/customer.entity';
import { Payment } from '../payments/payment.entity';
import { Refund } from '../payments/refund.entity';
import { CreatePaymentsSchema1764201600000 } from './migrations/1764201600000-create-payments-schema';
import { AddRefundRequestKey1764288000000 } from './migrations/1764288000000-add-refund-request-key';
import { ByteExactIdentifiers1764374400000 } from './migrations/1764374400000-byte-exact-identifiers';
import { AddCustomerRequestKey1764460800000 } from './migrations/1764460800000-add-customer-request-key';
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

/** TypeORM options for the configured database. Never `synchronize`: the schema comes from migrations. */
export async function dataSourceOptions(database: DatabaseConfig): Promise<DataSourceOptions> {
  const common = { entities: PAYMENTS_ENTITIES, migrations: PAYMENTS_MIGRATIONS, synchronize: false, logging: false } as const;
  switch (database.type) {
    case 'sqlite':
      if (database.path !== ':memory:') mkdirSync(dirname(database.path), { recursive: true });
      return { ...common, type: 'better-sqlite3', database: database.path, enableWAL: database.path !== ':memory:' };
    case 'postgres':
      // Bounded waits: a database that stops answering must give a 5xx, never a request that hangs.
      return { ...common, type: 'postgres', url: database.url, extra: { max: 20, connectionTimeoutMillis: 5_000 } };
    case 'mysql':
      return {
        ...common,
        // A MariaDB behind a mysql:// URL is still told to TypeORM as what it is (see mysqlServerType).
        type: await mysqlServerType(database.url),
        url: database.url,
        extra: { connectionLimit: 20 },
        connectTimeout: 5_000,
        supportBigNumbers: true,
        bigNumberStrings: true,
      };
  }
}
