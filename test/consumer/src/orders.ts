import { Body, Controller, DynamicModule, Module, Post } from '@nestjs/common';
import { Idempotent, IdempotencyModule, IdempotencyStore, sharedScope } from '@nest-idempotency/core';

export interface OrderBody {
  item: string;
}

/** The route a user writes: one `@Idempotent()` POST, nothing idempotency-specific in the handler. */
@Controller('orders')
export class OrdersController {
  runs = 0;

  @Post()
  @Idempotent()
  create(@Body() body: OrderBody) {
    this.runs++;
    return { order: this.runs, item: body.item };
  }
}

/** The app: the library's module on the given store, and the controller above. */
@Module({})
export class OrdersAppModule {
  static on(store: IdempotencyStore, keyPrefix: string): DynamicModule {
    return {
      module: OrdersAppModule,
      // The fixture has no authentication; sharedScope says one key space for all callers is intended.
      imports: [IdempotencyModule.forRoot({ store, keyPrefix, scope: sharedScope })],
      controllers: [OrdersController],
    };
  }
}
