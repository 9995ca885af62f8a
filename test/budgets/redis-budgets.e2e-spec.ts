import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import Redis from 'ioredis';
import { IdempotencyModule } from '@nest-idempotency/core';
import { RedisIdempotencyStore } from '@nest-idempotency/core/redis';
import { RedisServerProcess, startRedisServer } from '../support/redis-server';
import { Cost, expectExactly } from './budget';
import { GuardedApp } from './guarded-app';

// commandstats counts the commands a script runs as well as the script: the store's top-level commands are these.
const SCRIPT_COMMANDS = ['eval', 'evalsha'];

/** Calls per command name, from INFO commandstats. */
async function commandCalls(redis: Redis): Promise<Map<string, number>> {
  const info = await redis.info('commandstats');
  return new Map([...info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)].map(([, name, calls]) => [name, Number(calls)]));
}

/**
 * Budgets per guarded request on Redis, counted by a redis-server of the suite's own twice: by MONITOR, filtered to
 * the store's connection, and by INFO commandstats deltas. The requests run one after another and the store awaits
 * each call's answer before the next (acquire, then the handler, then complete), so each command is a round trip.
 */
describe('Budgets per request on Redis (a redis-server of its own)', () => {
  let server: RedisServerProcess;
  let guarded: GuardedApp;
  let observer: Redis;
  let monitor: Redis;
  let storeAddress: string;
  const log: { args: string[]; source: string }[] = [];
  const connectionName = `budgets-${randomUUID()}`;

  beforeAll(async () => {
    server = await startRedisServer();
    const store = new RedisIdempotencyStore({ ...server.address, connectionName });
    guarded = await GuardedApp.start([IdempotencyModule.forRoot({ store, scope: () => 'budgets' })]);
    observer = new Redis(server.url);
    // Each script goes as EVAL the first time the connection uses it, as EVALSHA after: the budgets are the steady state.
    await guarded.replay(await guarded.fresh());
    await guarded.mismatch(await guarded.fresh());
    const clients = (await observer.call('CLIENT', 'LIST')) as string;
    storeAddress = /(?:^| )addr=(\S+) .* name=(\S*) /m.exec(
      clients.split('\n').find((line) => line.includes(` name=${connectionName} `)) ?? '',
    )![1];
    monitor = await observer.monitor();
    monitor.on('monitor', (_time: string, args: string[], source: string) => log.push({ args, source }));
  }, 20_000);
  afterAll(async () => {
    monitor?.disconnect();
    observer?.disconnect();
    await guarded?.close();
    await server?.dispose();
  });

  /**
   * The store's commands while `work` ran: from MONITOR (names, in order; a script's own commands come from source
   * 'lua' and so drop out) and the scripts run, from INFO commandstats (the observer runs none).
   */
  async function commandsOf(work: () => Promise<void>): Promise<{ monitored: string[]; counted: number }> {
    const start = `start-${randomUUID()}`;
    const end = `end-${randomUUID()}`;
    const before = await commandCalls(observer);
    await observer.echo(start);
    await work();
    await observer.echo(end);
    const after = await commandCalls(observer);
    const at = (marker: string) => log.findIndex(({ args }) => args[0].toLowerCase() === 'echo' && args[1] === marker);
    // The server runs commands one at a time and MONITOR reports them in that order: once the end marker is in, so is
    // every command of `work`.
    for (const deadline = Date.now() + 5_000; at(end) < 0; await sleep(10)) {
      if (Date.now() > deadline) throw new Error('MONITOR did not report the end marker within 5 s');
    }
    const monitored = log
      .slice(at(start) + 1, at(end))
      .filter(({ source }) => source === storeAddress)
      .map(({ args }) => args[0].toLowerCase());
    const counted = SCRIPT_COMMANDS.reduce((sum, name) => sum + (after.get(name) ?? 0) - (before.get(name) ?? 0), 0);
    return { monitored, counted };
  }

  /** Holds `work` to `budget` round trips, each one script: a MULTI, a pipeline or a second command breaks it. */
  async function expectRoundTrips(request: string, budget: number, work: () => Promise<void>): Promise<void> {
    const cost: Cost = { engine: 'Redis', request, unit: 'round trips' };
    const { monitored, counted } = await commandsOf(work);
    expectExactly(cost, monitored.length, budget, `MONITOR saw ${monitored.join(', ') || 'nothing'}`);
    expectExactly({ ...cost, unit: 'scripts' }, counted, budget, 'INFO commandstats');
    expect(monitored).toEqual(Array(budget).fill('evalsha'));
  }

  it('costs a fresh key 2 round trips: the acquire script, then the complete script', async () => {
    await expectRoundTrips('a fresh key', 2, async () => {
      await guarded.fresh();
    });
  });

  it('costs a replay 1 round trip: the acquire script answers with the stored response', async () => {
    const key = await guarded.fresh();
    await expectRoundTrips('a replay', 1, () => guarded.replay(key));
  });

  it('costs an in-flight conflict (409) 1 round trip: the acquire script answers with the live lease', async () => {
    await guarded.conflict((second) => expectRoundTrips('an in-flight conflict (409)', 1, second));
  });

  it('costs a mismatch (422) 1 round trip: the acquire script answers with the stored fingerprint', async () => {
    const key = await guarded.fresh();
    await expectRoundTrips('a mismatch (422)', 1, () => guarded.mismatch(key));
  });
});
