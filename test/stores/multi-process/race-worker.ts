// One "app instance" of the multi-process race: opens its own connection to the shared store, waits for
// the start signal, then tries to acquire every key at once and completes the ones it won.
import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { IdempotencyStore } from '@nest-idempotency/core';
import { RedisIdempotencyStore } from '@nest-idempotency/core/redis';
import { TypeOrmIdempotencyStore } from '@nest-idempotency/core/typeorm';

type Message =
  | { type: 'go'; namespace: string; keys: string[] }
  | { type: 'check'; namespace: string; keys: string[] }
  | { type: 'exit' };

async function openStore(): Promise<{ store: IdempotencyStore; close: () => Promise<void> }> {
  if (process.env.RACE_STORE === 'redis') {
    const store = new RedisIdempotencyStore(process.env.RACE_REDIS_URL!, { commandTimeout: 10_000 });
    // The store connects on its first call: make that call before the start signal, so that no process spends the
    // race connecting while another sends all its acquires.
    await store.release({ namespace: 'race-warm-up', scope: '', key: 'warm-up' }, 'none');
    return { store, close: () => store.close() };
  }
  const dataSource = new DataSource({
    type: 'postgres',
    url: process.env.RACE_POSTGRES_URL,
    schema: process.env.RACE_POSTGRES_SCHEMA,
    poolSize: 20,
  });
  await dataSource.initialize();
  return { store: new TypeOrmIdempotencyStore(dataSource, { sweepIntervalMs: 0 }), close: () => dataSource.destroy() };
}

async function main(): Promise<void> {
  const worker = process.env.RACE_WORKER!;
  const { store, close } = await openStore();
  const id = (namespace: string, key: string) => ({ namespace, scope: 'race', key });
  const tryToWin = async (namespace: string, key: string): Promise<boolean> => {
    const token = randomUUID();
    const result = await store.acquire(id(namespace, key), {
      fingerprint: 'same-request',
      token,
      leaseMs: 30_000,
      ttlMs: 60_000,
    });
    if (result.state !== 'acquired') return false;
    if (!(await store.complete(id(namespace, key), token, JSON.stringify({ winner: worker }), 60_000))) {
      throw new Error(`worker ${worker} won ${key} but could not complete it`);
    }
    return true;
  };
  process.on('message', async (message: Message) => {
    try {
      if (message.type === 'go') {
        // Each worker takes the keys in its own random order and in small waves, so the processes' requests
        // interleave at the store instead of one process's whole burst landing first.
        const order = [...message.keys].sort(() => Math.random() - 0.5);
        const won: string[] = [];
        for (let i = 0; i < order.length; i += 10) {
          const wave = order.slice(i, i + 10);
          const results = await Promise.all(wave.map((key) => tryToWin(message.namespace, key)));
          won.push(...wave.filter((_, j) => results[j]));
        }
        process.send!({ type: 'won', worker, keys: won });
      } else if (message.type === 'check') {
        const seen: Record<string, string> = {};
        for (const key of message.keys) {
          const result = await store.acquire(id(message.namespace, key), {
            fingerprint: 'same-request',
            token: randomUUID(),
            leaseMs: 30_000,
            ttlMs: 60_000,
          });
          seen[key] =
            result.state === 'completed' ? JSON.parse(result.response).winner : `not completed: ${result.state}`;
        }
        process.send!({ type: 'seen', worker, seen });
      } else {
        await close();
        process.exit(0);
      }
    } catch (error) {
      process.send!({ type: 'error', worker, message: error instanceof Error ? error.stack : String(error) });
    }
  });
  process.send!({ type: 'ready', worker });
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
