import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { OrdersAppModule } from './app.module';
import { loadOrdersConfig, OrdersConfig, OrdersConfigError } from './config/orders-config';
import { setupOrdersApp } from './setup-app';

async function bootstrap(): Promise<void> {
  const logger = new Logger('Orders');
  let config: OrdersConfig;
  try {
    config = loadOrdersConfig(process.env);
  } catch (error) {
    if (!(error instanceof OrdersConfigError)) throw error;
    logger.error(error.message);
    process.exit(1);
  }
  const app = await NestFactory.create(OrdersAppModule.forRoot(config));
  setupOrdersApp(app);
  await app.listen(config.port, process.env.HOST ?? '127.0.0.1');
  const url = (await app.getUrl()).replace('[::1]', 'localhost');
  logger.log(`Listening on ${url} (database: ${config.database.type}); paying through ${config.paymentsUrl}`);
}

void bootstrap();
