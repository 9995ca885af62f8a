import { Module } from '@nestjs/common';
import { getDataSourceToken } from '@nestjs/typeorm';
import { TransactionHost } from '@nestjs-cls/transactional';
import { TransactionalAdapterTypeOrm } from '@nestjs-cls/transactional-adapter-typeorm';
import { DataSource } from 'typeorm';
import { IdempotencyEvent, IdempotencyModule, supportsTransactions } from '@nest-idempotency/core';
import { APP_CONFIG } from '../config/app-config.module';
import { AppConfig } from '../config/app-config';
import { MetricsService } from '../metrics/metrics.service';
import { createIdempotencyStore } from './idempotency-store.factory';

/** The library, configured from the environment, reporting to the app's metrics. */
@Module({
  imports: [
    IdempotencyModule.forRootAsync({
      isGlobal: true,
      inject: [APP_CONFIG, getDataSourceToken(), TransactionHost, MetricsService],
      useFactory: (
        config: AppConfig,
        dataSource: DataSource,
        transactionHost: TransactionHost<TransactionalAdapterTypeOrm>,
        metrics: MetricsService,
      ) => {
        const store = createIdempotencyStore(config, dataSource, transactionHost);
        // On the app's own database the record commits with the payment (exactly once); on Redis it cannot,
        // and the reference's UNIQUE constraint guards the remaining window (see docs/transactional.md, Guarantees per mode).
        const transactional = config.idempotencyStore === 'typeorm';
        if (transactional && !(supportsTransactions(store) && store.sharesConnectionWith(dataSource))) {
          throw new Error('IDEMPOTENCY_STORE=typeorm must run on the application DataSource to be transactional');
        }
        return {
          store,
          transactional,
          ttl: config.idempotencyTtlMs,
          lockTimeout: config.idempotencyLockTimeoutMs,
          events: (event: IdempotencyEvent) => metrics.idempotency.record(event),
          // The library's own instruments, on the meter provider /metrics serves (traces: the global provider, if any).
          telemetry: { meterProvider: metrics.meterProvider },
        };
      },
    }),
  ],
})
export class PaymentsIdempotencyModule {}
