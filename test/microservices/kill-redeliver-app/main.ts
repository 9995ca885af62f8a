// A fixture for the kill-and-redeliver tests: a RabbitMQ consumer (manual acknowledgement) of two queues,
// KR_QUEUE.transactional and KR_QUEUE.redis, debiting an account on PostgreSQL (KR_DATABASE_URL). Several run
// at once on the same queues; the one a message reaches first dies in the middle of its handler.
import 'reflect-metadata';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { MicroserviceOptions, Transport } from '@nestjs/microservices';
import { getDataSourceToken, TypeOrmModule } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { IdempotencyModule } from '@nest-idempotency/core';
import {
  CreateIdempotencyRecords1764259200000,
  IdempotencyTransaction,
  TypeOrmIdempotencyStore,
} from '@nest-idempotency/core/typeorm';
import { Account, Payment } from '../../transactional/kill-point-app/entities';
import { PaymentsConsumer } from './payments.consumer';

@Module({
  imports: [
    TypeOrmModule.forRoot({
      type: 'postgres',
      url: process.env.KR_DATABASE_URL!,
      entities: [Account, Payment],
      migrations: [CreateIdempotencyRecords1764259200000],
      migrationsRun: true,
      synchronize: true,
    }),
    IdempotencyModule.forRootAsync({
      isGlobal: true,
      inject: [getDataSourceToken()],
      useFactory: (dataSource: DataSource) => ({
        store: new TypeOrmIdempotencyStore(dataSource, { sweepIntervalMs: 0 }),
        // A dead consumer's lease ends soon, and its redelivered message is tried again every 200 ms meanwhile.
        lockTimeout: 1_000,
        retryAfter: 200,
        rmq: { noAck: false },
      }),
    }),
  ],
  controllers: [PaymentsConsumer],
  providers: [IdempotencyTransaction],
})
class KillRedeliverAppModule {}

async function main(): Promise<void> {
  const app = await NestFactory.create(KillRedeliverAppModule, { logger: ['error'] });
  for (const mode of ['transactional', 'redis']) {
    app.connectMicroservice<MicroserviceOptions>({
      transport: Transport.RMQ,
      options: {
        urls: [process.env.KR_RABBITMQ_URL!],
        queue: `${process.env.KR_QUEUE}.${mode}`,
        queueOptions: { durable: false },
        noAck: false,
        prefetchCount: 10,
      },
    });
  }
  const dataSource = app.get(DataSource);
  await dataSource.query(`INSERT INTO kp_accounts (id, balance) VALUES (1, 10000) ON CONFLICT (id) DO NOTHING`);
  await app.startAllMicroservices();
  app.enableShutdownHooks();
  // Listening on HTTP too, only so the test harness sees the process ready the way it sees every fixture app.
  await app.listen(0, '127.0.0.1');
  console.log(`Listening on ${(await app.getUrl()).replace('[::1]', '127.0.0.1')} `);
}

void main();
