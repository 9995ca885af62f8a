import { DynamicModule, Module } from '@nestjs/common';
import { IdempotencyModule, IdempotencyStore, sharedScope } from '@nest-idempotency/core';
import { OrdersController } from './orders.controller.js';
import { OrdersService } from './orders.service.js';

export interface AppOptions {
  /** Where the idempotency records live; default the in-process memory store. */
  store?: IdempotencyStore;
  /** The records' namespace, so that several runs can share one Redis or database. */
  keyPrefix?: string;
}

/** The starter's root module, with the library's module and an `@Idempotent()` orders route. */
@Module({})
export class AppModule {
  static forRoot(options: AppOptions = {}): DynamicModule {
    return {
      module: AppModule,
      // The app has no authentication: sharedScope says that one key space for every caller is meant.
      imports: [IdempotencyModule.forRoot({ ...options, scope: sharedScope })],
      controllers: [OrdersController],
      providers: [OrdersService],
    };
  }
}
