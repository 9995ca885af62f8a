import { INestApplication, ValidationPipe } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { documentIdempotentRoutes } from '@nest-idempotency/core/swagger';
import { ADMIN_KEY_HEADER } from './admin/admin-key.guard';
import { ApiExceptionFilter } from './common/api-exception.filter';
import { APP_CONFIG } from './config/app-config.module';
import { AppConfig } from './config/app-config';
import { StrictBodyPipe } from './common/strict-body.pipe';

/**
 * What `main.ts` and the e2e tests both apply to the app: strict validation (unknown fields refused,
 * payloads typed, absurd nesting refused), one error shape, and the OpenAPI document at /docs.
 */
export function setupApp(app: INestApplication): void {
  app.useGlobalPipes(
    new StrictBodyPipe(),
    new ValidationPipe({ whitelist: true, forbidNonWhitelisted: true, forbidUnknownValues: true }),
  );
  app.useGlobalFilters(new ApiExceptionFilter(app.get(HttpAdapterHost).httpAdapter));
  app.enableShutdownHooks();
  // The key header, the 400/409/422/503 answers and the replay header of every @Idempotent() route.
  documentIdempotentRoutes(app);
  const builder = new DocumentBuilder()
    .setTitle('Payments')
    .setDescription('Sample payments service. Every write takes an Idempotency-Key and is safe to retry.')
    .addBearerAuth(
      {
        type: 'http',
        scheme: 'bearer',
        bearerFormat: 'API key',
        description: 'Your API key, sent as `Authorization: Bearer <api key>`',
      },
      'api-key',
    );
  // The admin routes, and so their key, are documented only where they exist.
  if (app.get<AppConfig>(APP_CONFIG).adminApiKey) {
    builder.addApiKey(
      { type: 'apiKey', in: 'header', name: ADMIN_KEY_HEADER, description: "The operators' key, ADMIN_API_KEY" },
      'admin-key',
    );
  }
  const document = SwaggerModule.createDocument(app, builder.build());
  SwaggerModule.setup('docs', app, document);
}
