// Entry point `@nest-idempotency/core/swagger`: kept apart from the main barrel so apps without
// `@nestjs/swagger` (an optional peer) never load it.
export { documentIdempotentRoutes } from './http/openapi/document-idempotent-routes';
export { IdempotencyErrorBody, IdempotencyProblemBody } from './http/openapi/idempotency-error-body';
