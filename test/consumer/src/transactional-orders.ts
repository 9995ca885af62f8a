import { Body, Controller, DynamicModule, Injectable, Module, Post } from '@nestjs/common';
import { Idempotent, IdempotencyModule, sharedScope } from '@nest-idempotency/core';
import { IdempotencyTransaction, TypeOrmIdempotencyStore } from '@nest-idempotency/core/typeorm';
import { DataSource } from 'typeorm';
import { OrderBody } from './orders';

/** Writes the order in the request's idempotency transaction, as the transactional example in docs/transactional.md does. */
@Injectable()
export class OrdersWriter {
  constructor(
    private readonly transaction: IdempotencyTransaction,
    private readonly dataSource: DataSource,
  ) {}

  async write(item: string): Promise<{ id: number; item: string; inTransaction: boolean }> {
    const manager = this.transaction.managerFor(this.dataSource);
    const rows: Array<{ id: number }> = await (manager ?? this.dataSource.manager).query(
      'INSERT INTO consumer_orders (item) VALUES ($1) RETURNING id',
      [item],
    );
    return { id: rows[0].id, item, inTransaction: manager !== undefined };
  }
}

@Controller('orders')
export class TransactionalOrdersController {
  constructor(private readonly writer: OrdersWriter) {}

  @Post()
  @Idempotent()
  create(@Body() body: OrderBody) {
    return this.writer.write(body.item);
  }
}

/** The transactional mode: the record completes in the transaction the order is written in. */
@Module({})
export class TransactionalOrdersAppModule {
  static on(dataSource: DataSource, keyPrefix: string): DynamicModule {
    return {
      module: TransactionalOrdersAppModule,
      imports: [
        IdempotencyModule.forRoot({
          store: new TypeOrmIdempotencyStore(dataSource),
          transactional: true,
          keyPrefix,
          scope: sharedScope,
        }),
      ],
      controllers: [TransactionalOrdersController],
      // IdempotencyTransaction is not provided here: IdempotencyModule exports it.
      providers: [OrdersWriter, { provide: DataSource, useValue: dataSource }],
    };
  }
}
