import { INestApplication, ValidationPipe } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { documentIdempotentRoutes } from '@nest-idempotency/core/swagger';
import { ApiExceptionFilter } from './common/api-exception.filter';
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
  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
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
      )
      .build(),
  );
  SwaggerModule.setup('docs', app, document);
}
