// Entry point `@app/idempotency/redis`: kept apart from the main barrel so apps that do not use Redis
// never load ioredis.
export * from './stores/redis-idempotency.store';
