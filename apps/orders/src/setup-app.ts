import { INestApplication, ValidationPipe } from '@nestjs/common';

/**
 * What `main.ts` and the e2e tests both apply: strict validation (unknown fields refused, a 400
 * `{statusCode, error, message}` naming the field) and shutdown hooks, which stop the recovery loop.
 */
export function setupOrdersApp(app: INestApplication): void {
  app.useGlobalPipes(new ValidationPipe({ whitelist: true, forbidNonWhitelisted: true, forbidUnknownValues: true }));
  app.enableShutdownHooks();
}
