import { Module } from '@nestjs/common';
import { getDataSourceToken, TypeOrmModule } from '@nestjs/typeorm';
import { ClsPluginTransactional } from '@nestjs-cls/transactional';
import { TransactionalAdapterTypeOrm } from '@nestjs-cls/transactional-adapter-typeorm';
import { ClsModule } from 'nestjs-cls';
import { takeTurnsOnSqlite } from '@nest-idempotency/core/typeorm';
import { APP_CONFIG } from '../config/app-config.module';
import { AppConfig } from '../config/app-config';
import { dataSourceOptions } from './data-source-options';
import { openMigratedDataSource } from './migrated-data-source';
import { PostgresConnectionLossListener } from './postgres-connection-loss.listener';

/**
 * The app's database (DATABASE_URL), migrated at start-up, and its transactions: services take the current one
 * from `TransactionHost` and open theirs with `@Transactional()`. On SQLite, whose one connection every request
 * shares, those transactions take turns with each other and with the idempotency store's.
 */
@Module({
  imports: [
    TypeOrmModule.forRootAsync({
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig) => dataSourceOptions(config.database),
      dataSourceFactory: (options) => openMigratedDataSource(options!),
    }),
    ClsModule.forRoot({
      global: true,
      middleware: { mount: true },
      plugins: [
        new ClsPluginTransactional({
          imports: [TypeOrmModule],
          adapter: takeTurnsOnSqlite(new TransactionalAdapterTypeOrm({ dataSourceToken: getDataSourceToken() })),
        }),
      ],
    }),
  ],
  providers: [PostgresConnectionLossListener],
})
export class DatabaseModule {}
