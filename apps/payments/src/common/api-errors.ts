import { applyDecorators } from '@nestjs/common';
import { ApiHeader, ApiResponse } from '@nestjs/swagger';

/** The error body every 4xx/5xx of this API has. */
export class ApiErrorBody {
  statusCode: number;
  error: string;
  message: string | string[];
}

/** Documents the error responses a route can give, each with the `{statusCode, error, message}` body. */
export function ApiErrors(...statuses: Array<[number, string]>) {
  return applyDecorators(
    ...statuses.map(([status, description]) => ApiResponse({ status, description, type: ApiErrorBody })),
  );
}

/** Documents an `@Idempotent()` write: the key header and the protocol's own answers. */
export function ApiIdempotentWrite() {
  return applyDecorators(
    ApiHeader({
      name: 'Idempotency-Key',
      required: true,
      description:
        'A unique key per logical request (1-255 visible ASCII characters, e.g. a UUID). Retrying with the same key ' +
        'and body returns the first answer (with `Idempotent-Replayed: true`) instead of running again.',
    }),
    ApiErrors(
      [400, 'Invalid body, or missing / invalid / repeated Idempotency-Key'],
      [401, 'Missing or unknown API key'],
      [409, 'A request with this key is still in flight (see Retry-After)'],
      [422, 'This key was used for a different request'],
      [503, 'The idempotency store is unavailable; nothing was done, retry with the same key'],
    ),
  );
}
