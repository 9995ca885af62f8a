import { Module } from '@nestjs/common';
import { IdempotencyModule } from '@app/idempotency';
import { APP_CONFIG } from '../config/app-config.module';
import { AppConfig } from '../config/app-config';
import { DatabaseService } from '../database/database.service';
import { MetricsService } from '../metrics/metrics.service';
import { createIdempotencyStore } from './idempotency-store.factory';

/** The library, configured from the environment, feeding its events to the metrics. */
@Module({
  imports: [
    IdempotencyModule.forRootAsync({
      isGlobal: true,
      inject: [APP_CONFIG, DatabaseService, MetricsService],
      useFactory: (config: AppConfig, db: DatabaseService, metrics: MetricsService) => ({
        store: createIdempotencyStore(config, db),
        ttl: config.idempotencyTtlMs,
        lockTimeout: config.idempotencyLockTimeoutMs,
        events: (event) => metrics.idempotency.record(event),
      }),
    }),
  ],
})
export class PaymentsIdempotencyModule {}
