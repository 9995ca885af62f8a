import { Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { IdempotencyInterceptor } from './idempotency.interceptor';
// Loads no GraphQL: the Apollo driver, where there is one, finds it among the providers and registers it.
import { IdempotencyApolloPlugin } from '../graphql/idempotency-apollo.plugin';
import { IdempotencyRoutesValidator } from './idempotency-routes.validator';
import { IdempotencyStoreLifecycle } from './idempotency-store.lifecycle';
import { ConfigurableIdempotencyModule, IDEMPOTENCY_MODULE_OPTIONS } from './idempotency.module-definition';
import { IdempotencyService } from '../core/idempotency.service';
import { IdempotencyConfiguration } from '../options/idempotency-configuration';
import { IdempotencyModuleOptions } from '../options/idempotency-options.interface';
import { IdempotencyStore } from '../stores/idempotency-store';
// Type-only use of TypeORM inside: providing it loads no TypeORM in apps that do not use SQL.
import { IdempotencyTransaction } from '../stores/typeorm/idempotency-transaction';

/**
 * Register once with `IdempotencyModule.forRoot({ store, ... })` (or `forRootAsync`), then put
 * `@Idempotent()` on the routes to protect. `IdempotencyService`, `IdempotencyStore` and, for the transactional
 * mode, `IdempotencyTransaction` are exported, so a module that imports this one can inject them. It starts and
 * closes every store it uses (`IdempotencyStore.start()`/`close()`), the ones given to single routes included.
 */
@Module({
  imports: [DiscoveryModule],
  providers: [
    {
      // Resolved once, here: a bad option stops start-up before anything uses it.
      provide: IdempotencyConfiguration,
      useFactory: (options?: IdempotencyModuleOptions) => new IdempotencyConfiguration(options ?? {}),
      inject: [{ token: IDEMPOTENCY_MODULE_OPTIONS, optional: true }],
    },
    IdempotencyService,
    IdempotencyInterceptor,
    IdempotencyRoutesValidator,
    IdempotencyStoreLifecycle,
    IdempotencyTransaction,
    IdempotencyApolloPlugin,
    {
      provide: IdempotencyStore,
      useFactory: (configuration: IdempotencyConfiguration) => configuration.defaults.store,
      inject: [IdempotencyConfiguration],
    },
  ],
  exports: [IdempotencyService, IdempotencyInterceptor, IdempotencyStore, IdempotencyTransaction],
})
export class IdempotencyModule extends ConfigurableIdempotencyModule {}
