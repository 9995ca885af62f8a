import { Test } from '@nestjs/testing';
import { IdempotencyModule } from '@nest-idempotency/core';
import { RedisIdempotencyStore } from '@nest-idempotency/core/redis';

/**
 * Builds an app module on the Redis store (`REDIS_URL`, reachable) and never starts it, as a script or a test that
 * only compiles its module would: `redis-store-exit.e2e-spec.ts` checks that this process exits by itself.
 */
async function main(): Promise<void> {
  new RedisIdempotencyStore(process.env.REDIS_URL!);
  await Test.createTestingModule({
    imports: [IdempotencyModule.forRoot({ store: new RedisIdempotencyStore(process.env.REDIS_URL!) })],
  }).compile();
  console.log('built');
}

void main();
