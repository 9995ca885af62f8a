import { Logger } from '@nestjs/common';
import { IdempotencyResponseInfo, ResolvedIdempotencyOptions } from '../idempotency-options.interface';

/**
 * One of the application's option callbacks (`scope`, `storeResponse`, ...) threw, rejected, or answered with a value
 * of the wrong type: a fault of the server's configuration, not of the request. Thrown before any record is taken;
 * each transport answers it as a server error (HTTP 500) unless the callback threw the transport's own refusal.
 */
export class IdempotencyOptionError extends Error {
  constructor(
    /** The option's name, as in the options: `scope`. */
    readonly option: string,
    /** The route (or operation) whose call it failed: `POST /payments`. */
    readonly route: string,
    /** What the callback threw, or undefined when it answered with the wrong type. */
    readonly cause: unknown,
    problem = `threw: ${describe(cause)}`,
  ) {
    super(`${route}: the idempotency option "${option}" ${problem}`);
    this.name = 'IdempotencyOptionError';
  }
}

function isPromise<T>(value: T | Promise<T>): value is Promise<T> {
  return typeof (value as Promise<T> | undefined)?.then === 'function';
}

/**
 * The caller's scope from the `scope` option: at once when the callback answers at once (most do, and awaiting only
 * a promise saves a turn of the microtask queue), else a promise. A throw, a rejection or an answer that is neither a
 * string nor undefined becomes an `IdempotencyOptionError`, before anything is recorded.
 */
export function scopeOf<C>(
  scope: (context: C) => string | undefined | Promise<string | undefined>,
  context: C,
  route: string,
): string | undefined | Promise<string | undefined> {
  const checked = (value: unknown): string | undefined => {
    if (value === undefined || typeof value === 'string') return value;
    const type = value === null ? 'null' : typeof value;
    throw new IdempotencyOptionError('scope', route, undefined, `returned ${type}, not a string or undefined`);
  };
  let scoped: string | undefined | Promise<string | undefined>;
  try {
    scoped = scope(context);
  } catch (error) {
    throw new IdempotencyOptionError('scope', route, error);
  }
  if (!isPromise(scoped)) return checked(scoped);
  return scoped.then(checked, (error: unknown) => {
    throw new IdempotencyOptionError('scope', route, error);
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
    const error = new IdempotencyOptionError('storeResponse', route, cause);
    logger.error(`${error.message}; the result was sent but not stored, and the key released`, stackOf(cause));
    return error.message;
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function stackOf(error: unknown): string | undefined {
  return error instanceof Error ? error.stack : undefined;
}
