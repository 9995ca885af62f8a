import { DynamicModule, Global, Module } from '@nestjs/common';
import { OrdersConfig } from './orders-config';

/** DI token of the loaded `OrdersConfig`. */
export const ORDERS_CONFIG = Symbol('ORDERS_CONFIG');

/** Makes the configuration loaded at start-up injectable everywhere. */
@Global()
@Module({})
export class OrdersConfigModule {
  static forRoot(config: OrdersConfig): DynamicModule {
    return {
      module: OrdersConfigModule,
      providers: [{ provide: ORDERS_CONFIG, useValue: config }],
      exports: [ORDERS_CONFIG],
    };
  }
}
