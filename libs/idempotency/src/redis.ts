// Entry point `@nest-idempotency/core/redis`: kept apart from the main barrel so apps that do not use Redis
// never load ioredis.
export { RedisIdempotencyStore } from './stores/redis/redis-idempotency.store';
export type {
  RedisIdempotencyClusterConnection,
  RedisIdempotencyConnection,
  RedisIdempotencyStoreOptions,
} from './stores/redis/redis-idempotency.store';
