import { applyDecorators } from '@nestjs/common';
import { ApiProperty, ApiResponse } from '@nestjs/swagger';

/** The error body every 4xx/5xx of this API has. */
export class ApiErrorBody {
  @ApiProperty({ example: 404 })
  statusCode: number;

  @ApiProperty({ example: 'Not Found' })
  error: string;

  @ApiProperty({
    oneOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }],
    description: 'What went wrong; a list when the body fails validation in several places',
  })
  message: string | string[];
}

/**
 * Documents the error responses a route can give, each with the `{statusCode, error, message}` body. The
 * idempotency key's own answers (400, 409, 422, 503) are documented by the library's `documentIdempotentRoutes`.
 */
export function ApiErrors(...statuses: Array<[number, string]>) {
  return applyDecorators(
    ...statuses.map(([status, description]) => ApiResponse({ status, description, type: ApiErrorBody })),
  );
}
