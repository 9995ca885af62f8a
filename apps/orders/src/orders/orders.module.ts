import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { PaymentsClientModule } from '../payments-client/payments-client.module';
import { Order } from './order.entity';
import { OrdersController } from './orders.controller';
import { OrdersService } from './orders.service';
import { OrderRecovery } from './order-recovery';

/** `POST /orders`, `GET /orders/:id`, and the loop that resumes pending orders. */
@Module({
  imports: [TypeOrmModule.forFeature([Order]), PaymentsClientModule],
  controllers: [OrdersController],
  providers: [OrdersService, OrderRecovery],
})
export class OrdersModule {}
