import { Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { IdempotencyInterceptor } from './idempotency.interceptor';
import { IdempotencyRoutesValidator } from './idempotency-routes.validator';
import { ConfigurableIdempotencyModule } from './idempotency.module-definition';
import { IdempotencyService } from './idempotency.service';
import { IdempotencyStore } from './stores/idempotency-store';

/**
 * Register once with `IdempotencyModule.forRoot({ store, ... })` (or `forRootAsync`), then put
 * `@Idempotent()` on the routes to protect. `IdempotencyService` and `IdempotencyStore` are exported.
 */
@Module({
  imports: [DiscoveryModule],
  providers: [
    IdempotencyService,
    IdempotencyInterceptor,
    IdempotencyRoutesValidator,
    { provide: IdempotencyStore, useFactory: (service: IdempotencyService) => service.defaults.store, inject: [IdempotencyService] },
  ],
  exports: [IdempotencyService, IdempotencyInterceptor, IdempotencyStore],
})
export class IdempotencyModule extends ConfigurableIdempotencyModule {}
