import { Logger } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { IdempotencyModule } from '@nest-idempotency/core';
import { RedisIdempotencyStore } from '@nest-idempotency/core/redis';
import { freePorts, startRedisServer } from '../../support/redis-server';

/**
 * Prints how long `RedisIdempotencyStore.close()` takes (median and worst of 20) with Redis reachable (ready, or still
 * connecting), unreachable (reconnecting) and frozen (ready, but QUIT unanswered), and how long `app.close()` of an
 * app on the store takes right after `init()`. Not a test: figures for a report.
 *
 *   TS_NODE_PROJECT=tsconfig.json node -r ts-node/register/transpile-only -r tsconfig-paths/register \
 *     test/stores/lifecycle/measure-close.ts
 */
const ROUNDS = 20;
const id = { namespace: 'measure-close', scope: '', key: 'k' };
const acquire = { fingerprint: 'f', token: 't', leaseMs: 1_000, ttlMs: 1_000 };

async function timeClose(url: string, prepare: (store: RedisIdempotencyStore) => Promise<unknown>): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const store = new RedisIdempotencyStore(url, { commandTimeout: 200 });
    await prepare(store).catch(() => undefined);
    const started = performance.now();
    await store.close();
    times.push(performance.now() - started);
  }
  return times.sort((a, b) => a - b);
}

async function timeAppClose(url: string): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const moduleRef = await Test.createTestingModule({
      imports: [IdempotencyModule.forRoot({ store: new RedisIdempotencyStore(url) })],
    }).compile();
    const app = await moduleRef.createNestApplication({ logger: false }).init();
    const started = performance.now();
    await app.close();
    times.push(performance.now() - started);
  }
  return times.sort((a, b) => a - b);
}

const report = (name: string, times: number[]) =>
  console.log(
    `${name.padEnd(44)} median ${times[times.length >> 1].toFixed(2)} ms, max ${times[times.length - 1].toFixed(2)} ms`,
  );

async function main(): Promise<void> {
  Logger.overrideLogger(false);
  const server = await startRedisServer();
  const [unusedPort] = await freePorts(1);
  try {
    report('reachable, ready (after a call)', await timeClose(server.url, (store) => store.acquire(id, acquire)));
    report('reachable, still connecting (just started)', await timeClose(server.url, async (store) => store.start()));
    const unreachable = `redis://127.0.0.1:${unusedPort}`;
    report('unreachable, reconnecting', await timeClose(unreachable, async (store) => (store.start(), sleep(300))));
    report('unreachable, never started', await timeClose(unreachable, async () => undefined));
    report('app.close() right after init(), reachable', await timeAppClose(server.url));
    report('app.close() right after init(), unreachable', await timeAppClose(unreachable));
    const frozen = await timeClose(server.url, async (store) => {
      server.thaw();
      await store.acquire(id, acquire);
      server.freeze();
    });
    server.thaw();
    report('frozen server (ready, QUIT unanswered)', frozen);
  } finally {
    await server.dispose();
  }
}

void main();
