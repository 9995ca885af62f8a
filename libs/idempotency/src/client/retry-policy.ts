/**
 * Which answers the client retries, with the same key and the same body bytes. One table for every front end; the
 * README's retry table and `test/client` say the same.
 *
 * - 409 with `Retry-After`: the key is in progress (the server's `IdempotencyInProgressException` always says when to
 *   come back). A 409 without it is the application's own conflict, and definitive.
 * - 429, 502, 503, 504: not processed, or not yet; `Retry-After` is honoured.
 * - 500: the server releases the key on a 5xx, so the retry runs the work again rather than replaying the error.
 * - Any other status from 400 up is definitive: retrying the same bytes cannot change a 400, 401, 403, 404 or 422.
 */
export type StatusDecision = 'done' | 'retry' | 'rejected';

/** The statuses retried whatever their headers say. */
export const RETRIED_STATUSES: readonly number[] = [429, 500, 502, 503, 504];

/** What an answer with `status` means for the call; `hasRetryAfter` tells an in-progress 409 from a conflict. */
export function decideOnStatus(status: number, hasRetryAfter: boolean): StatusDecision {
  if (status < 400) return 'done';
  if (RETRIED_STATUSES.includes(status)) return 'retry';
  if (status === 409 && hasRetryAfter) return 'retry';
  return 'rejected';
}

/**
 * Error codes an attempt cannot mend, as axios-retry's network-error predicate (is-retry-allowed) lists them: TLS
 * and certificate failures, and a URL that cannot be sent. Every other error without an answer (a reset or refused
 * connection, a socket closed before the answer, a DNS failure, a timeout) is retried: the answer may have been lost.
 */
const NOT_RETRIED_CODES = new Set([
  'ERR_INVALID_URL',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_REVOKED',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'ERR_SSL_WRONG_VERSION_NUMBER',
  'ERR_FR_TOO_MANY_REDIRECTS',
]);

/** Whether an attempt that got no answer is retried; the error's code is read from it or its `cause` (fetch nests it). */
export function isRetriedError(error: unknown): boolean {
  for (let current = error, depth = 0; current && typeof current === 'object' && depth < 4; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && NOT_RETRIED_CODES.has(code)) return false;
    current = (current as { cause?: unknown }).cause;
  }
  return true;
}
