import { describeError } from '../util/describe-error';

/**
 * The protocol's own refusals. They know no transport: HTTP answers them as 400/409/422/503, a message handler
 * as an `RpcException`, a GraphQL resolver as a `GraphQLError`, each carrying the same stable `code`.
 */
export type IdempotencyErrorCode =
  | 'IDEMPOTENCY_KEY_MISSING'
  | 'IDEMPOTENCY_KEY_INVALID'
  | 'IDEMPOTENCY_KEY_MISMATCH'
  | 'IDEMPOTENCY_IN_PROGRESS'
  | 'IDEMPOTENCY_STORE_UNAVAILABLE'
  | 'IDEMPOTENCY_OPTION_FAILED'
  | 'IDEMPOTENCY_PAYLOAD_TOO_LARGE'
  | 'IDEMPOTENCY_PAYLOAD_UNREADABLE';

/** A refusal of the idempotency protocol: the work did not run. */
export abstract class IdempotencyError extends Error {
  abstract readonly code: IdempotencyErrorCode;
  /** Whether the same call may succeed later unchanged (in progress, store unavailable). */
  abstract readonly retryable: boolean;
}

/** The call needs an idempotency key and has none. */
export class IdempotencyKeyMissingError extends IdempotencyError {
  readonly code = 'IDEMPOTENCY_KEY_MISSING';
  readonly retryable = false;
  constructor(readonly keyName = 'idempotency key') {
    super(`The ${keyName} is required.`);
    this.name = 'IdempotencyKeyMissingError';
  }
}

/** The key is malformed (not 1-255 visible ASCII characters) or came more than once. */
export class IdempotencyKeyInvalidError extends IdempotencyError {
  readonly code = 'IDEMPOTENCY_KEY_INVALID';
  readonly retryable = false;
  constructor(
    readonly reason: string,
    readonly keyName = 'idempotency key',
  ) {
    super(`Invalid ${keyName}: ${reason}.`);
    this.name = 'IdempotencyKeyInvalidError';
  }
}

/** The key was already used for another call (another method, path, body, payload or arguments). */
export class IdempotencyKeyMismatchError extends IdempotencyError {
  readonly code = 'IDEMPOTENCY_KEY_MISMATCH';
  readonly retryable = false;
  constructor() {
    super('This idempotency key was already used for a different request. Use a new key for a new request.');
    this.name = 'IdempotencyKeyMismatchError';
  }
}

/** A call with the same key is still running; try again after `retryAfterSeconds`. */
export class IdempotencyInProgressError extends IdempotencyError {
  readonly code = 'IDEMPOTENCY_IN_PROGRESS';
  readonly retryable = true;
  constructor(readonly retryAfterSeconds: number) {
    super('A request with this idempotency key is already being processed. Retry later.');
    this.name = 'IdempotencyInProgressError';
  }
}

/** The store could not be reached, so the work was not run (fail closed); retry with the same key. */
export class IdempotencyStoreUnavailableError extends IdempotencyError {
  readonly code = 'IDEMPOTENCY_STORE_UNAVAILABLE';
  readonly retryable = true;
  constructor(readonly retryAfterSeconds = 1) {
    super('The idempotency store is unavailable; the request was not processed. Retry with the same key.');
    this.name = 'IdempotencyStoreUnavailableError';
  }
}

/**
 * One of the application's option callbacks (`scope`, `key`, ...) threw, rejected, or answered with a value of the
 * wrong type: a fault of the server's configuration, not of the call. Raised before any record is taken, so nothing
 * blocks the call once the callback is fixed. HTTP and GraphQL answer it as a server error (or with the
 * `HttpException` the callback threw); a message is refused for good (rejected to its dead-letter exchange).
 */
export class IdempotencyOptionError extends IdempotencyError {
  readonly code = 'IDEMPOTENCY_OPTION_FAILED';
  readonly retryable = false;
  constructor(
    /** The option's name, as in the options: `scope`. */
    readonly option: string,
    /** What the callback threw; undefined when it answered with the wrong type. */
    readonly thrown: unknown,
    problem = `threw: ${describeError(thrown)}`,
  ) {
    super(`the idempotency option "${option}" ${problem}`);
    this.name = 'IdempotencyOptionError';
  }
}

/**
 * A payload that cannot be fingerprinted: larger than the handler's `maxMessageBytes`, or one the canonical
 * form cannot hold (nested thousands deep). The same payload always fails, so it is refused for good.
 */
export class IdempotencyPayloadError extends IdempotencyError {
  readonly retryable = false;
  constructor(
    readonly code: 'IDEMPOTENCY_PAYLOAD_TOO_LARGE' | 'IDEMPOTENCY_PAYLOAD_UNREADABLE',
    reason: string,
  ) {
    super(`The payload cannot be fingerprinted: ${reason}.`);
    this.name = 'IdempotencyPayloadError';
  }
}
