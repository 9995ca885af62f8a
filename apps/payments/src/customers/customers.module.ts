import { Module } from '@nestjs/common';
import { CustomersController } from './customers.controller';
import { CustomersService } from './customers.service';

/** `POST /customers`, `GET /customers/:id`. */
@Module({ controllers: [CustomersController], providers: [CustomersService] })
export class CustomersModule {}
