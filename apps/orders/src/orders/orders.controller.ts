import { Body, Controller, Get, Param, ParseUUIDPipe, Post } from '@nestjs/common';
import { IdempotencyKey, Idempotent } from '@nest-idempotency/core';
import { Caller, CurrentCaller } from '../auth/caller';
import { CreateOrderDto } from './create-order.dto';
import { OrderView, orderView, PlacedOrderView, placedOrderView } from './order.views';
import { OrdersService } from './orders.service';

/** A caller's orders: placing one pays it; each caller sees only its own. */
@Controller('orders')
export class OrdersController {
  constructor(private readonly orders: OrdersService) {}

  /** 201 with `status` `paid` or `declined`, or `pending` when the payments service gave no definitive answer in time. */
  @Post()
  @Idempotent()
  async place(
    @CurrentCaller() caller: Caller,
    @Body() dto: CreateOrderDto,
    @IdempotencyKey() key: string,
  ): Promise<PlacedOrderView> {
    return placedOrderView(await this.orders.place(caller.id, dto, key));
  }

  @Get(':id')
  async get(@CurrentCaller() caller: Caller, @Param('id', new ParseUUIDPipe()) id: string): Promise<OrderView> {
    return orderView(await this.orders.get(caller.id, id));
  }
}
