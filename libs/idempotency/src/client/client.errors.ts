import type { IdempotentMethod } from './client.options';

/** An answer as the client read it, carried by its errors. */
export interface IdempotentResponseSnapshot {
  status: number;
  /** Header names in lower case. */
  headers: Record<string, string>;
  body: unknown;
  replayed: boolean;
}

/** Every error of an idempotent call after it began: the key it sent and how many attempts it made. */
export abstract class IdempotentRequestError extends Error {
  protected constructor(
    message: string,
    readonly key: string,
    readonly attempts: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * A definitive refusal: the server answered with a status that retrying cannot change (400, 401, 403, 404, 422, a
 * 409 without `Retry-After`, any other 4xx; a 5xx outside 500/502/503/504). The request did not succeed; `response`
 * says why. Fix the request before sending it again (a changed body needs a new key).
 */
export class IdempotentRequestRejectedError extends IdempotentRequestError {
  constructor(
    method: IdempotentMethod,
    path: string,
    readonly response: IdempotentResponseSnapshot,
    key: string,
    attempts: number,
  ) {
    super(`${method} ${path} was refused with ${response.status}`, key, attempts);
    this.name = 'IdempotentRequestRejectedError';
  }

  /** The refusal's status. */
  get status(): number {
    return this.response.status;
  }
}

/** Why the client stopped without a definitive answer. */
export type IdempotentOutcomeUnknownReason =
  /** `maxAttempts` were made. */
  | 'attempts'
  /** The next wait (backoff or `Retry-After`) would end past `deadlineMs`. */
  | 'deadline'
  /** The caller's `AbortSignal` aborted the call. */
  | 'aborted'
  /** An attempt failed in a way another attempt would not mend (a TLS certificate error, say). */
  | 'not_retryable';

/**
 * The client stopped before a definitive answer: the work may have run or not. It did not fail: retry later with the
 * same `key` (never a new one), and the server runs it once or replays its answer.
 */
export class IdempotentRequestOutcomeUnknownError extends IdempotentRequestError {
  constructor(
    method: IdempotentMethod,
    path: string,
    readonly reason: IdempotentOutcomeUnknownReason,
    key: string,
    attempts: number,
    /** The last attempt's answer when it had one (a 503, say); else `cause` is the last attempt's error. */
    readonly lastResponse?: IdempotentResponseSnapshot,
    cause?: unknown,
  ) {
    super(
      `The outcome of ${method} ${path} is unknown after ${attempts} attempt(s) (${reason}): ` +
        `retry later with the same idempotency key ${key}`,
      key,
      attempts,
      cause === undefined ? undefined : { cause },
    );
    this.name = 'IdempotentRequestOutcomeUnknownError';
  }
}

/** One attempt took longer than `attemptTimeoutMs` (or than what was left of the deadline); its answer may be lost. */
export class IdempotentAttemptTimeoutError extends Error {
  constructor(readonly timeoutMs: number) {
    super(`The attempt got no complete answer within ${timeoutMs} ms`);
    this.name = 'IdempotentAttemptTimeoutError';
  }
}
