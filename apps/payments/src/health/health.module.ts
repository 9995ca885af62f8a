import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { HealthController } from './health.controller';
import { IdempotencyStoreHealthIndicator } from './idempotency-store.health';

/** Liveness and readiness through @nestjs/terminus. */
@Module({
  imports: [TerminusModule.forRoot({ logger: false })],
  controllers: [HealthController],
  providers: [IdempotencyStoreHealthIndicator],
})
export class HealthModule {}
