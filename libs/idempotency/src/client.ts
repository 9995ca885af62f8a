// Entry point `@nest-idempotency/core/client`: the caller's side of the protocol, kept apart from the main barrel.
// The fetch front end loads no Nest or axios code; the HttpService front end takes the app's `HttpService` and names
// no optional peer in its types; the message helpers load `@nestjs/microservices` (and `nats`) only when called.

/** Builds an idempotent client over Node's global `fetch`. */
export { createIdempotentFetch } from './client/fetch.client';
/** Builds an idempotent client over Nest's `HttpService` (`@nestjs/axios`). */
export { createIdempotentHttpClient } from './client/http-service.client';
/** What `createIdempotentHttpClient` needs of an `HttpService`. */
export type { IdempotentHttpServiceLike } from './client/http-service.client';
/** The client both front ends return. */
export type { IdempotentClient } from './client/idempotent-client';
/** A client's options, a call, its answer, and the event reported after each attempt. */
export type {
  IdempotentAttemptEvent,
  IdempotentClientOptions,
  IdempotentMethod,
  IdempotentRequest,
  IdempotentResponse,
  IdempotentRetryOptions,
} from './client/client.options';
/** The retry options' defaults. */
export { IDEMPOTENT_CLIENT_DEFAULTS } from './client/client.options';
/** Derives a key from the intent (an operation and the ids the caller persists), never per attempt. */
export { idempotencyKeyFor } from './client/idempotency-key-for';
/** What `idempotencyKeyFor` derives a key from. */
export type { IdempotencyKeyPart } from './client/idempotency-key-for';
/** The errors: a definitive refusal, an unknown outcome (retry later with the same key), an attempt's timeout. */
export {
  IdempotentAttemptTimeoutError,
  IdempotentRequestError,
  IdempotentRequestOutcomeUnknownError,
  IdempotentRequestRejectedError,
} from './client/client.errors';
/** Why an outcome is unknown, and an answer as the errors carry it. */
export type { IdempotentOutcomeUnknownReason, IdempotentResponseSnapshot } from './client/client.errors';
/** The retry table: which statuses are retried, and how a status and an attempt's error are judged. */
export { decideOnStatus, isRetriedError, RETRIED_STATUSES } from './client/retry-policy';
/** What the retry table decides for a status. */
export type { StatusDecision } from './client/retry-policy';
/** Reads a `Retry-After` header (seconds or an HTTP date) as a wait in ms. */
export { parseRetryAfter } from './client/retry-after-header';
/** Message records that carry the key: RabbitMQ's `messageId`, NATS's `Idempotency-Key` header. */
export { idempotentNatsRecord, idempotentRmqRecord } from './client/message-records';
/** The records and headers the message helpers take and return. */
export type { IdempotentNatsRecord, IdempotentRmqRecord, NatsHeadersLike } from './client/message-records';
