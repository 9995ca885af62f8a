import { ExecutionContext, HttpException, InternalServerErrorException, Logger } from '@nestjs/common';
import { IdempotencyOptionError } from '../core/idempotency.errors';
import { scopeOf } from '../core/option-callbacks';
import { ResolvedIdempotencyOptions } from '../options/idempotency-options.interface';
import { errorStack } from '../util/describe-error';

/**
 * What the client gets when an option callback failed before anything ran. A callback that threw an
 * `HttpException` judged the request itself (a 400 for a missing tenant header, a 401), so that is the answer.
 * Anything else is the server's configuration at fault: logged with the route and the option, and answered with a
 * 500 that says nothing was processed (no record either, so a retry after the fix runs). HTTP routes and GraphQL
 * mutations (where the Apollo driver shows it as an `INTERNAL_SERVER_ERROR`) answer alike.
 */
export function optionFailureException(error: IdempotencyOptionError, route: string, logger: Logger): HttpException {
  if (error.thrown instanceof HttpException) return error.thrown;
  logger.error(`${route}: ${error.message}; the request was refused (500) and not run`, errorStack(error.thrown));
  return new InternalServerErrorException(
    'The request was not processed: the server could not apply its idempotency settings. Nothing was recorded.',
  );
}

/**
 * The caller's scope from the `scope` option, for an HTTP route or a GraphQL mutation: at once when the callback
 * answers at once, else a promise. A failing callback becomes the answer `optionFailureException` gives.
 */
export function requestScope(
  scope: ResolvedIdempotencyOptions['scope'],
  context: ExecutionContext,
  route: string,
  logger: Logger,
): string | undefined | Promise<string | undefined> {
  const refuse = (error: unknown): never => {
    throw error instanceof IdempotencyOptionError ? optionFailureException(error, route, logger) : error;
  };
  try {
    const scoped = scopeOf(scope, context);
    return typeof scoped === 'object' ? scoped.catch(refuse) : scoped;
  } catch (error) {
    return refuse(error);
  }
}
