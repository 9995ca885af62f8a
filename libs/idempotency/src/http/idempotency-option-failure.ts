import { HttpException, InternalServerErrorException, Logger } from '@nestjs/common';
import { IdempotencyOptionError } from '../core/idempotency.errors';

/**
 * What the client gets when an option callback failed before anything ran. A callback that threw an
 * `HttpException` judged the request itself (a 400 for a missing tenant header, a 401), so that is the answer.
 * Anything else is the server's configuration at fault: logged with the route and the option, and answered with a
 * 500 that says nothing was processed (no record either, so a retry after the fix runs). HTTP routes and GraphQL
 * mutations (where the Apollo driver shows it as an `INTERNAL_SERVER_ERROR`) answer alike.
 */
export function optionFailureException(error: IdempotencyOptionError, route: string, logger: Logger): HttpException {
  if (error.thrown instanceof HttpException) return error.thrown;
  logger.error(
    `${route}: ${error.message}; the request was refused (500) and not run`,
    error.thrown instanceof Error ? error.thrown.stack : undefined,
  );
  return new InternalServerErrorException(
    'The request was not processed: the server could not apply its idempotency settings. Nothing was recorded.',
  );
}
