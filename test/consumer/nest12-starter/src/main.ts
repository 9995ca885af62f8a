import { NestFactory } from '@nestjs/core';
import { AppModule } from './app.module.js';

async function bootstrap() {
  // The starter's main.ts; the app module takes its idempotency store as an option (here the default, in memory).
  const app = await NestFactory.create(AppModule.forRoot());
  await app.listen(process.env.PORT ?? 3000);
}
await bootstrap();
