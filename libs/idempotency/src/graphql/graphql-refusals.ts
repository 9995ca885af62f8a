import { GraphQLError } from 'graphql';
import {
  IdempotencyError,
  IdempotencyErrorCode,
  IdempotencyInProgressError,
  IdempotencyStoreUnavailableError,
} from '../core/idempotency.errors';

/** What a refusal carries in its `extensions`, besides what the GraphQL server adds (a stack trace in development). */
export interface IdempotencyGraphQLErrorExtensions {
  /** The protocol's stable code (`IDEMPOTENCY_KEY_MISMATCH`, `IDEMPOTENCY_IN_PROGRESS`, ...). */
  code: IdempotencyErrorCode;
  /** Whether the same call may succeed later unchanged. */
  retryable: boolean;
  /** Seconds to wait before retrying, on `IDEMPOTENCY_IN_PROGRESS` and `IDEMPOTENCY_STORE_UNAVAILABLE`. */
  retryAfter?: number;
}

/** One of the protocol's refusals as a GraphQL client gets it: an error on the mutation's field, with its code. */
export function graphQLErrorOf(error: IdempotencyError, message = error.message): GraphQLError {
  const extensions: IdempotencyGraphQLErrorExtensions = { code: error.code, retryable: error.retryable };
  if (error instanceof IdempotencyInProgressError || error instanceof IdempotencyStoreUnavailableError) {
    extensions.retryAfter = error.retryAfterSeconds;
  }
  return new GraphQLError(message, { extensions: { ...extensions }, originalError: error });
}
