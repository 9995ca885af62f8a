import { Logger } from '@nestjs/common';
import { IdempotencyResponseInfo, ResolvedIdempotencyOptions } from '../options/idempotency-options.interface';
import { errorStack } from '../util/describe-error';
import { isPromise } from '../util/is-promise';
import { IdempotencyOptionError } from './idempotency.errors';

/**
 * The caller's scope from the `scope` option: at once when the callback answers at once (most do, and awaiting only
 * a promise saves a turn of the microtask queue), else a promise. A throw, a rejection or an answer that is neither a
 * string nor none (undefined, null) becomes an `IdempotencyOptionError`, before anything is recorded.
 */
export function scopeOf<C>(
  scope: (context: C) => string | undefined | Promise<string | undefined>,
  context: C,
): string | undefined | Promise<string | undefined> {
  const checked = (value: unknown): string | undefined => {
    if (typeof value === 'string') return value;
    // null is read as none, as undefined is: plain JavaScript often says "no tenant" so.
    if (value === undefined || value === null) return undefined;
    throw new IdempotencyOptionError('scope', undefined, `returned ${typeof value}, not a string or undefined`);
  };
  let scoped: string | undefined | Promise<string | undefined>;
  try {
    scoped = scope(context);
  } catch (error) {
    throw new IdempotencyOptionError('scope', error);
  }
  if (!isPromise(scoped)) return checked(scoped);
  return scoped.then(checked, (error: unknown) => {
    throw new IdempotencyOptionError('scope', error);
  });
}

/**
 * Why a finished call's result is not stored, or undefined to store it, by the `storeResponse` option. The work has
 * run by then, so a callback that throws must not turn its result into an error (a client told "failed" retries a
 * payment that went through): the result is sent, the record released, and the fault logged with the option named.
 */
export function declinedByStoragePolicy(
  options: ResolvedIdempotencyOptions,
  response: IdempotencyResponseInfo,
  route: string,
  logger: Logger,
): string | undefined {
  try {
    return options.storeResponse(response) ? undefined : `storage policy declined status ${response.status}`;
  } catch (cause) {
    const error = new IdempotencyOptionError('storeResponse', cause);
    logger.error(
      `${route}: ${error.message}; the result was sent but not stored, and the key released`,
      errorStack(cause),
    );
    return error.message;
  }
}
