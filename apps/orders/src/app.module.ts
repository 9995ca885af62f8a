import { DynamicModule, Module } from '@nestjs/common';
import { AuthModule } from './auth/auth.module';
import { OrdersConfig } from './config/orders-config';
import { OrdersConfigModule } from './config/orders-config.module';
import { DatabaseModule } from './database/database.module';
import { OrdersModule } from './orders/orders.module';

/** The sample shop (README, The orders app), built from a configuration loaded at start-up. */
@Module({})
export class OrdersAppModule {
  static forRoot(config: OrdersConfig): DynamicModule {
    return {
      module: OrdersAppModule,
      imports: [OrdersConfigModule.forRoot(config), DatabaseModule, AuthModule, OrdersModule],
    };
  }
}
