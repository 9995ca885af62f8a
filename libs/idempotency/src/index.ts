// The public API of `@nest-idempotency/core`, named one by one: what is not listed here (how the protocol
// runs inside, the record's stored form) may change in any release. Stores of their own live in the
// `/redis` and `/typeorm` entry points; OpenAPI in `/swagger`; the message handlers' refusal in `/microservices`.

// Setting it up, and the routes.
export { IdempotencyModule } from './module/idempotency.module';
export { Idempotent } from './module/idempotent.decorator';
export { IdempotencyKey } from './http/idempotency-key.decorator';
export { IdempotencyApolloPlugin } from './graphql/idempotency-apollo.plugin';
export { IdempotencyInterceptor } from './module/idempotency.interceptor';
export { IdempotencyService } from './core/idempotency.service';
export type { IdempotentRunOptions } from './core/idempotency.service';
export type {
  IdempotencyForgetLookup,
  IdempotencyRecordInspection,
  IdempotencyRecordLookup,
} from './core/record-inspection';

// Options.
export type {
  IdempotencyConflictStrategy,
  IdempotencyErrorFormat,
  IdempotencyFingerprintOptions,
  IdempotencyMessageKeySpace,
  IdempotencyModuleOptions,
  IdempotencyResponseInfo,
  IdempotencyRmqOptions,
  IdempotentRouteOptions,
  ResolvedIdempotencyOptions,
} from './options/idempotency-options.interface';
export type {
  IdempotencyCompressionOptions,
  IdempotencyEncryptionOptions,
  IdempotencyLocalCacheOptions,
} from './options/stored-record-options';
export { principalScope, sharedScope, storeBelow500 } from './options/idempotency-options';
export {
  IDEMPOTENCY_DEFAULT_HEADER,
  IDEMPOTENCY_DEFAULT_KEY_PREFIX,
  IDEMPOTENCY_DEFAULT_LOCK_TIMEOUT_MS,
  IDEMPOTENCY_DEFAULT_MAX_MESSAGE_BYTES,
  IDEMPOTENCY_DEFAULT_MAX_RESPONSE_BYTES,
  IDEMPOTENCY_DEFAULT_RETRY_AFTER_MS,
  IDEMPOTENCY_DEFAULT_TTL_MS,
  IDEMPOTENCY_MAX_KEY_LENGTH,
  IDEMPOTENCY_REPLAYED_HEADER,
} from './options/idempotency.constants';

// What the library answers and reports: the protocol's refusals, and their HTTP answers.
export {
  IdempotencyError,
  IdempotencyInProgressError,
  IdempotencyKeyInvalidError,
  IdempotencyKeyMismatchError,
  IdempotencyKeyMissingError,
  IdempotencyOptionError,
  IdempotencyPayloadError,
  IdempotencyStoreUnavailableError,
} from './core/idempotency.errors';
export type { IdempotencyErrorCode } from './core/idempotency.errors';
export {
  IdempotencyConflictException,
  IdempotencyInProgressException,
  IdempotencyKeyInvalidException,
  IdempotencyKeyMismatchException,
  IdempotencyKeyMissingException,
  IdempotencyStoreUnavailableException,
} from './http/idempotency.exceptions';
export { IdempotencyProblemException, PROBLEM_JSON_CONTENT_TYPE, problemDetailsOf } from './http/problem-details';
export type { IdempotencyProblemDetails } from './http/problem-details';
export type {
  DeferredSettlementResult,
  IdempotencyEvent,
  IdempotencyEventListener,
  IdempotencyOutcome,
} from './options/idempotency.events';
export { IDEMPOTENCY_TELEMETRY_SCOPE } from './options/telemetry-options';
export type { IdempotencyTelemetryOptions } from './options/telemetry-options';
export type { IdempotencyTransportKind } from './core/idempotent-call';

// Stores: the contract (to write one), and the memory store.
export { IdempotencyStore, supportsTransactions } from './stores/idempotency-store';
export { IdempotencyStoreUnreachableError } from './stores/idempotency-store-unreachable.error';
export type {
  IdempotencyAcquireRequest,
  IdempotencyAcquireResult,
  IdempotencyForgetResult,
  IdempotencyRecordId,
  IdempotencyRecordSnapshot,
  IdempotencyStoreTransaction,
  TransactionalIdempotencyStore,
} from './stores/idempotency-store';
export { MemoryIdempotencyStore } from './stores/memory/memory-idempotency.store';
export type { MemoryIdempotencyStoreOptions } from './stores/memory/memory-idempotency.store';
