import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DataSourceOptions } from 'typeorm';
import { CreateIdempotencyRecords1764259200000, IdempotencyRecordEntity } from '@nest-idempotency/core/typeorm';
import { OrdersDatabaseConfig } from '../config/orders-config';
import { Order } from '../orders/order.entity';
import { CreateOrdersSchema1765065600000 } from './migrations/1765065600000-create-orders-schema';

/**
 * TypeORM options for the shop's database: its orders and, beside them, the idempotency records of
 * `POST /orders`. Never `synchronize`; migrations run at start. Every wait is bounded, as in the payments app.
 */
export function ordersDataSourceOptions(database: OrdersDatabaseConfig): DataSourceOptions {
  const common = {
    entities: [Order, IdempotencyRecordEntity],
    migrations: [CreateOrdersSchema1765065600000, CreateIdempotencyRecords1764259200000],
    migrationsRun: true,
    synchronize: false,
    logging: false,
  };
  if (database.type === 'postgres') {
    return {
      ...common,
      type: 'postgres',
      url: database.url,
      extra: {
        max: database.poolSize,
        connectionTimeoutMillis: 3_000,
        lock_timeout: 1_000,
        statement_timeout: 5_000,
        query_timeout: 6_000,
      },
    };
  }
  if (database.path !== ':memory:') mkdirSync(dirname(database.path), { recursive: true });
  return {
    ...common,
    type: 'better-sqlite3',
    database: database.path,
    enableWAL: database.path !== ':memory:',
    timeout: 100,
  };
}
