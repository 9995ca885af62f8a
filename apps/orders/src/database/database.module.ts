import { Module } from '@nestjs/common';
import { getDataSourceToken, TypeOrmModule } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { IdempotencyModule } from '@nest-idempotency/core';
import { TypeOrmIdempotencyStore } from '@nest-idempotency/core/typeorm';
import { ORDERS_CONFIG } from '../config/orders-config.module';
import { OrdersConfig } from '../config/orders-config';
import { ordersDataSourceOptions } from './data-source-options';

/**
 * The shop's database (DATABASE_URL), migrated at start-up, and the idempotency records of `POST /orders` in it
 * (the library's TypeORM store), so a crash loses none. Not the transactional mode: a request waits on the
 * payments service, and no database transaction should stay open across that call; the order's unique
 * (caller, request key) covers a run that died before its record completed.
 */
@Module({
  imports: [
    TypeOrmModule.forRootAsync({
      inject: [ORDERS_CONFIG],
      useFactory: (config: OrdersConfig) => ordersDataSourceOptions(config.database),
    }),
    IdempotencyModule.forRootAsync({
      isGlobal: true,
      inject: [ORDERS_CONFIG, getDataSourceToken()],
      useFactory: (config: OrdersConfig, dataSource: DataSource) => ({
        store: new TypeOrmIdempotencyStore(dataSource),
        lockTimeout: config.idempotencyLockTimeoutMs,
      }),
    }),
  ],
})
export class DatabaseModule {}
