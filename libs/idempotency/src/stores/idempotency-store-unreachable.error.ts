import { describeError } from '../util/describe-error';
/**
 * What a store rejects with when it knows its call never reached the backend: no connection could be had (refused,
 * a name that does not resolve, a pool that gave none), or the client would not send (offline, not writeable).
 *
 * The library answers it like any store failure (503, or the work unprotected under `failOpen`), with one
 * difference: a failed `acquire` marked so wrote no record, so no release is made later on its behalf. An error of
 * any other kind (a timeout, a connection lost mid-call) may have reached the backend, and a record it wrote is
 * released in the background. Stores of your own may throw this class, or any error with `notSent: true`.
 */
export class IdempotencyStoreUnreachableError extends Error {
  /** The mark the library reads: the call never left this process. */
  readonly notSent = true;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'IdempotencyStoreUnreachableError';
  }

  /** `what` (say, "no connection to PostgreSQL") followed by the driver's own message, which stays the `cause`. */
  static because(what: string, cause: unknown): IdempotencyStoreUnreachableError {
    return new IdempotencyStoreUnreachableError(`${what}: ${describeError(cause)}`, {
      cause,
    });
  }
}

/** Whether a store's rejection says its call never reached the backend (see `IdempotencyStoreUnreachableError`). */
export function isNotSent(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { notSent?: unknown }).notSent === true;
}
