/*
 * The micro-measurements docs/benchmarks.md quotes to explain where the time goes (not part of `npm run bench`):
 *
 *   npx ts-node -r tsconfig-paths/register --transpile-only bench/micro.ts
 *
 * AsyncResource.bind (what Nest's InterceptorsConsumer calls twice per intercepted request), the fingerprint, and the
 * client CPU of one acquire + complete pair through RedisIdempotencyStore (50 concurrent callers, on a dedicated
 * redis-server the script starts and stops).
 */
import { AsyncResource } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import { fingerprintRequest } from '@nest-idempotency/core/core/fingerprint';
import { RedisIdempotencyStore } from '@nest-idempotency/core/redis';
import { startRedisServer, stopAll } from './lib/processes';

function time(name: string, iterations: number, fn: () => unknown): void {
  for (let i = 0; i < iterations / 10; i++) fn();
  const started = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) fn();
  const us = Number(process.hrtime.bigint() - started) / iterations / 1000;
  console.log(`${name.padEnd(44)} ${us.toFixed(2)} µs`);
}

async function main(): Promise<void> {
  const body = { amount: 2500, currency: 'EUR', reference: 'order-1042' };
  time('AsyncResource.bind', 100_000, () => AsyncResource.bind(() => 1));
  time('fingerprintRequest (small JSON body)', 200_000, () =>
    fingerprintRequest({ method: 'POST', path: '/orders', body, headers: {} }),
  );

  const redis = await startRedisServer();
  const store = new RedisIdempotencyStore(redis.url);
  try {
    const pairs = 100_000;
    let next = 0;
    const caller = async () => {
      while (next < pairs) {
        const id = { namespace: 'micro', scope: '', key: `k${next++}` };
        const token = randomUUID();
        await store.acquire(id, { fingerprint: 'a'.repeat(64), token, leaseMs: 30_000, ttlMs: 600_000 });
        await store.complete(
          id,
          token,
          '{"status":201,"headers":{"content-type":"application/json"},"body":{"id":1}}',
          600_000,
        );
      }
    };
    const cpu = process.cpuUsage();
    const started = Date.now();
    await Promise.all(Array.from({ length: 50 }, caller));
    const used = process.cpuUsage(cpu);
    console.log(
      `${'Redis store acquire + complete, client CPU'.padEnd(44)} ${((used.user + used.system) / pairs).toFixed(2)} µs per pair (${((pairs * 1000) / (Date.now() - started)).toFixed(0)} pairs/s)`,
    );
  } finally {
    await store.close();
    await stopAll();
  }
}

main().catch(async (error: unknown) => {
  console.error(error);
  await stopAll();
  process.exit(1);
});
