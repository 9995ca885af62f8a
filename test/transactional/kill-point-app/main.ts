// A fixture app for the kill-point tests: one POST /payments that debits an account, and can be made to
// die (SIGKILL) at a chosen point of a request. KP_DATABASE_URL picks PostgreSQL or SQLite; KP_STORE picks
// the transactional TypeORM store or the Redis store.
import 'reflect-metadata';
import { Module } from '@nestjs/common';
import { APP_INTERCEPTOR, NestFactory } from '@nestjs/core';
import { getDataSourceToken, TypeOrmModule } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { IdempotencyModule } from '@nest-idempotency/core';
import { RedisIdempotencyStore } from '@nest-idempotency/core/redis';
import {
  CreateIdempotencyRecords1764259200000,
  IdempotencyTransaction,
  TypeOrmIdempotencyStore,
} from '@nest-idempotency/core/typeorm';
import { KillPointInterceptor } from './after-commit.interceptor';
import { Account, Payment } from './entities';
import { KillPointPaymentsController } from './payments.controller';

const databaseUrl = process.env.KP_DATABASE_URL!;
const sqlite = databaseUrl.startsWith('sqlite:');

@Module({
  imports: [
    TypeOrmModule.forRoot({
      ...(sqlite
        ? { type: 'better-sqlite3', database: databaseUrl.slice('sqlite:'.length) }
        : { type: 'postgres', url: databaseUrl }),
      entities: [Account, Payment],
      migrations: [CreateIdempotencyRecords1764259200000],
      migrationsRun: true,
      // The fixture's own two tables; the idempotency table comes from the library's migration.
      synchronize: true,
    }),
    IdempotencyModule.forRootAsync({
      isGlobal: true,
      inject: [getDataSourceToken()],
      useFactory: (dataSource: DataSource) =>
        process.env.KP_STORE === 'redis'
          ? { store: new RedisIdempotencyStore(process.env.KP_REDIS_URL!), lockTimeout: 1_000 }
          : {
              store: new TypeOrmIdempotencyStore(dataSource, { sweepIntervalMs: 0 }),
              transactional: true,
              lockTimeout: 1_000,
            },
    }),
  ],
  controllers: [KillPointPaymentsController],
  providers: [IdempotencyTransaction, { provide: APP_INTERCEPTOR, useClass: KillPointInterceptor }],
})
class KillPointAppModule {}

async function main(): Promise<void> {
  const app = await NestFactory.create(KillPointAppModule, { logger: ['error'] });
  await app.listen(0, '127.0.0.1');
  const dataSource = app.get(DataSource);
  await dataSource.query(
    `INSERT INTO kp_accounts (id, balance) SELECT 1, 10000 WHERE NOT EXISTS (SELECT 1 FROM kp_accounts WHERE id = 1)`,
  );
  console.log(`Listening on ${(await app.getUrl()).replace('[::1]', '127.0.0.1')} `);
}

void main();
