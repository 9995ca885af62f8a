import { Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { IdempotencyService } from '../core/idempotency.service';
import { IdempotencyStore } from '../stores/idempotency-store';
import { describeError } from '../util/describe-error';

/**
 * Starts and closes every distinct store the module uses, each exactly once: the module's store when the module
 * initialises, a store given to a route, a controller, a message handler or a resolver when the start-up validator
 * finds it (before the application listens). Stores close in `onApplicationShutdown`, which Nest runs after every
 * `onModuleDestroy`, so the service's last settlements (its `onModuleDestroy`) still reach them; @nestjs/throttler's
 * storage and @nestjs/bullmq close theirs there too, for the same reason.
 */
@Injectable()
export class IdempotencyStoreLifecycle implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('Idempotency');
  /** Every store started, in the order they were, with how its start went. */
  private readonly started = new Map<IdempotencyStore, Promise<void>>();
  private closing: Promise<void> | undefined;

  constructor(private readonly idempotency: IdempotencyService) {}

  onModuleInit(): Promise<void> {
    return this.start(this.idempotency.defaults.store);
  }

  /** Starts `store` unless it was started before; settles as its one start did. */
  start(store: IdempotencyStore): Promise<void> {
    let started = this.started.get(store);
    if (!started) {
      started = Promise.resolve().then(() => store.start?.());
      this.started.set(store, started);
    }
    return started;
  }

  onApplicationShutdown(): Promise<void> {
    this.closing ??= this.closeAll();
    return this.closing;
  }

  private async closeAll(): Promise<void> {
    // A store whose start failed is closed too: it may have opened something before it failed.
    const stores = [...this.started.keys()];
    const closed = await Promise.allSettled(stores.map((store) => Promise.resolve().then(() => store.close?.())));
    closed.forEach((result, i) => {
      if (result.status === 'fulfilled') return;
      const reason = describeError(result.reason);
      this.logger.error(`Closing the idempotency store ${stores[i].constructor.name} failed: ${reason}`);
    });
  }
}
