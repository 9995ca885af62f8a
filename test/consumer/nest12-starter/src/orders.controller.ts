import { Body, Controller, Post } from '@nestjs/common';
import { Idempotent } from '@nest-idempotency/core';
import { OrdersService } from './orders.service.js';

export interface CreateOrderDto {
  item: string;
}

@Controller('orders')
export class OrdersController {
  // Injected by its type alone: Nest reads it from the `design:paramtypes` metadata the compiler emits.
  constructor(private readonly ordersService: OrdersService) {}

  @Post()
  @Idempotent()
  create(@Body() body: CreateOrderDto) {
    return this.ordersService.create(body.item);
  }
}
