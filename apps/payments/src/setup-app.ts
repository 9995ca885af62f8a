import { INestApplication, ValidationPipe } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
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
  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('Payments')
      .setDescription('Sample payments service. Every write takes an Idempotency-Key and is safe to retry.')
      .addBearerAuth({ type: 'http', scheme: 'bearer', description: 'API key' })
      .build(),
  );
  SwaggerModule.setup('docs', app, document);
}
