// Entry point `@nest-idempotency/core/microservices`: kept apart from the main barrel so apps without message
// handlers never load @nestjs/microservices. `@Idempotent()` itself comes from the main entry.
export { IdempotencyRpcException } from './microservices/idempotency-rpc.exception';
export type { IdempotencyRpcError } from './microservices/idempotency-rpc.exception';
export type { StoredRpcReply } from './microservices/rpc-idempotency.transport';
