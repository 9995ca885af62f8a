import { createParamDecorator, ExecutionContext } from '@nestjs/common';
import { ROUTE_ARGS_METADATA } from '@nestjs/common/constants';

/** Where the interceptor leaves the request's validated key, for `@IdempotencyKey()`. */
export const IDEMPOTENCY_KEY_ON_REQUEST = Symbol.for('idempotency:key');

/**
 * Injects the request's idempotency key, validated and unquoted (`"abc"` and `abc` both give `abc`), on an
 * `@Idempotent()` route or mutation; undefined when the route's key is optional and none came. Storing it in a business
 * row under a UNIQUE constraint guards work that has no natural unique value (a refund) when the store sits
 * outside the database.
 */
export const IdempotencyKey = createParamDecorator(keyOnRequest);

function keyOnRequest(_data: unknown, context: ExecutionContext): string | undefined {
  // A GraphQL resolver's request is its context's `req`; an HTTP handler's is its first argument.
  const request = context.getType<string>() === 'graphql' ? context.getArgByIndex(2)?.req : context.getArgByIndex(0);
  return request?.[IDEMPOTENCY_KEY_ON_REQUEST];
}

/**
 * Whether a handler has an `@IdempotencyKey()` parameter, from the metadata Nest's `createParamDecorator` leaves on
 * its class (HTTP controllers and GraphQL resolvers alike). Only then is the key left on the request: adding a
 * property to Express's request makes V8 copy its fifty-odd properties to a new layout, which with reading the method
 * once rather than three times was a fifth of the memory-store guard's instructions (bench/guard-instructions.ts).
 */
export function takesIdempotencyKey(classRef: Function, handler: Function): boolean {
  const parameters: Record<string, { factory?: unknown }> | undefined = Reflect.getMetadata(
    ROUTE_ARGS_METADATA,
    classRef,
    handler.name,
  );
  return parameters !== undefined && Object.values(parameters).some((parameter) => parameter.factory === keyOnRequest);
}
