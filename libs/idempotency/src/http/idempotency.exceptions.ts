import { HttpException, HttpStatus } from '@nestjs/common';
import {
  IdempotencyError,
  IdempotencyInProgressError,
  IdempotencyKeyInvalidError,
  IdempotencyKeyMismatchError,
  IdempotencyStoreUnavailableError,
} from '../core/idempotency.errors';

/** Shapes every error body as `{statusCode, error, message}`, like Nest's built-in exceptions. */
function body(statusCode: HttpStatus, error: string, message: string) {
  return { statusCode, error, message };
}

/** 400: the route needs an `Idempotency-Key` and the request has none. */
export class IdempotencyKeyMissingException extends HttpException {
  constructor(headerName: string) {
    super(
      body(HttpStatus.BAD_REQUEST, 'Bad Request', `The ${headerName} header is required on this route.`),
      HttpStatus.BAD_REQUEST,
    );
  }
}

/** 400: the key is malformed (not 1-255 visible ASCII characters) or was sent more than once. */
export class IdempotencyKeyInvalidException extends HttpException {
  constructor(headerName: string, reason: string) {
    super(
      body(HttpStatus.BAD_REQUEST, 'Bad Request', `Invalid ${headerName} header: ${reason}.`),
      HttpStatus.BAD_REQUEST,
    );
  }
}

/** 422: the key was already used for a request with another method, path, body or fingerprinted header. */
export class IdempotencyKeyMismatchException extends HttpException {
  constructor() {
    super(
      body(
        HttpStatus.UNPROCESSABLE_ENTITY,
        'Unprocessable Entity',
        'This idempotency key was already used for a different request. Use a new key for a new request.',
      ),
      HttpStatus.UNPROCESSABLE_ENTITY,
    );
  }
}

/**
 * 409: a request with the same key is still being processed; retry after `retryAfterSeconds`. The HTTP answer to
 * `IdempotencyInProgressError`.
 */
export class IdempotencyInProgressException extends HttpException {
  constructor(readonly retryAfterSeconds: number) {
    super(
      body(
        HttpStatus.CONFLICT,
        'Conflict',
        'A request with this idempotency key is already being processed. Retry later.',
      ),
      HttpStatus.CONFLICT,
    );
  }
}

/** @deprecated The same class under its former name: use `IdempotencyInProgressException`. */
export const IdempotencyConflictException = IdempotencyInProgressException;
/** @deprecated The same class under its former name: use `IdempotencyInProgressException`. */
export type IdempotencyConflictException = IdempotencyInProgressException;

/**
 * 503: the idempotency store could not be reached, so the request was not run (fail closed); retry with the
 * same key after `retryAfterSeconds`.
 */
export class IdempotencyStoreUnavailableException extends HttpException {
  constructor(readonly retryAfterSeconds = 1) {
    super(
      body(
        HttpStatus.SERVICE_UNAVAILABLE,
        'Service Unavailable',
        'The idempotency store is unavailable; the request was not processed. Retry with the same key.',
      ),
      HttpStatus.SERVICE_UNAVAILABLE,
    );
  }
}

/** The HTTP answer to one of the protocol's refusals; the key is named as the route's header. */
export function httpExceptionOf(error: IdempotencyError, headerName: string): HttpException {
  if (error instanceof IdempotencyKeyMismatchError) return new IdempotencyKeyMismatchException();
  if (error instanceof IdempotencyInProgressError) return new IdempotencyInProgressException(error.retryAfterSeconds);
  if (error instanceof IdempotencyStoreUnavailableError) {
    return new IdempotencyStoreUnavailableException(error.retryAfterSeconds);
  }
  if (error instanceof IdempotencyKeyInvalidError) return new IdempotencyKeyInvalidException(headerName, error.reason);
  return new IdempotencyKeyMissingException(headerName);
}
