import { createParamDecorator, ExecutionContext } from '@nestjs/common';

/** Where the interceptor leaves the request's validated key, for `@IdempotencyKey()`. */
export const IDEMPOTENCY_KEY_ON_REQUEST = Symbol.for('idempotency:key');

/**
 * Injects the request's idempotency key, validated and unquoted (`"abc"` and `abc` both give `abc`), on an
 * `@Idempotent()` route or mutation; undefined when the route's key is optional and none came. Storing it in a business
 * row under a UNIQUE constraint guards work that has no natural unique value (a refund) when the store sits
 * outside the database.
 */
export const IdempotencyKey = createParamDecorator((_data: unknown, context: ExecutionContext): string | undefined => {
  // A GraphQL resolver's request is its context's `req`; an HTTP handler's is its first argument.
  const request = context.getType<string>() === 'graphql' ? context.getArgByIndex(2)?.req : context.getArgByIndex(0);
  return request?.[IDEMPOTENCY_KEY_ON_REQUEST];
});
