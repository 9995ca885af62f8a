import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { AppModule } from './app.module';
import { ConfigError, loadAppConfig } from './config/app-config';
import { demoApiKey } from './config/demo-api-key';
import { loadEnvFile } from './config/env-file';
import { paymentRequestsTransport } from './payment-requests/payment-requests.transport';
import { setupApp } from './setup-app';

async function bootstrap(): Promise<void> {
  const logger = new Logger('Payments');
  let config;
  try {
    if (loadEnvFile()) logger.log('Read .env (variables set in the environment win over it)');
    config = loadAppConfig(process.env, demoApiKey);
  } catch (error) {
    if (error instanceof ConfigError) {
      logger.error(error.message);
      process.exit(1);
    }
    throw error;
  }
  const app = await NestFactory.create(AppModule.forRoot(config));
  setupApp(app);
  if (config.amqp) {
    app.connectMicroservice(paymentRequestsTransport(config.amqp.url, config.amqp.queue));
    await app.startAllMicroservices();
    logger.log(`Consuming payment.requested messages from RabbitMQ queue "${config.amqp.queue}"`);
  }
  await app.listen(config.port, process.env.HOST ?? '127.0.0.1');
  const url = (await app.getUrl()).replace('[::1]', 'localhost');
  logger.log(
    `Listening on ${url} (database: ${config.database.type}, idempotency store: ${config.idempotencyStore}); API docs at ${url}/docs`,
  );
  if (config.demoMerchant) {
    logger.log(
      `No API_KEYS set: demo merchant "demo" has the API key ${config.apiKeys.get('demo')} (kept in data/demo-api-key)`,
    );
    logger.log(
      `Try: curl -s -X POST ${url}/customers -H "Authorization: Bearer ${config.apiKeys.get('demo')}" -H "Idempotency-Key: try-1" -H "Content-Type: application/json" -d '{"name":"Ada","balance":10000}'`,
    );
  }
}

void bootstrap();
