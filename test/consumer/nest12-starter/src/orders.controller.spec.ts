import { Test, TestingModule } from '@nestjs/testing';
import { AppModule } from './app.module.js';
import { OrdersController } from './orders.controller.js';

describe('OrdersController', () => {
  let ordersController: OrdersController;

  beforeEach(async () => {
    const app: TestingModule = await Test.createTestingModule({
      imports: [AppModule.forRoot()],
    }).compile();

    ordersController = app.get<OrdersController>(OrdersController);
  });

  describe('create', () => {
    it('creates an order (its service injected by type)', async () => {
      await expect(ordersController.create({ item: 'book' })).resolves.toEqual({ order: 1, item: 'book' });
    });
  });
});
