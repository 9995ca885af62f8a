/*
 * The guard's instructions per request above Nest's pass-through floor, counted under callgrind the way the bench's
 * instruction phase counts them (bench/lib/instruction-phase.ts), for a few apps only: a loop for working on the
 * guard's CPU cost in minutes rather than the full bench's hour. Every app is the trivial app
 * (bench/apps/trivial-app.ts) on Nest 11.
 *
 *   npx ts-node -r tsconfig-paths/register --transpile-only bench/guard-instructions.ts
 *
 * Settings (environment): GUARD_INSTRUCTIONS_APPS (default interceptor-async,memory; also redis, memory-full,
 * interceptor), BENCH_CPU_WARMUP (4,000), BENCH_CPU_WINDOW (1,000), BENCH_CPU_WINDOWS (3), BENCH_KEEP_CALLGRIND=1
 * (keep the dumps for bench/callgrind-functions.ts), BENCH_REDIS_URL (default: a redis-server of its own).
 */
import { runInstructionPhase } from './lib/instruction-phase';
import { RequestShape } from './lib/load';
import { startRedisServer, stopAll } from './lib/processes';
import { median } from './lib/stats';

const STORES: Record<string, Record<string, string>> = {
  interceptor: { BENCH_STORE: 'interceptor' },
  'interceptor-async': { BENCH_STORE: 'interceptor-async' },
  memory: { BENCH_STORE: 'memory' },
  'memory-full': { BENCH_STORE: 'memory', BENCH_MEMORY_PREFILL: '1000000' },
  redis: { BENCH_STORE: 'redis' },
};

async function main(): Promise<void> {
  const apps = (process.env.GUARD_INSTRUCTIONS_APPS ?? 'interceptor-async,memory').split(',');
  const unknown = apps.filter((app) => !STORES[app]);
  if (unknown.length) throw new Error(`unknown apps: ${unknown.join(', ')} (known: ${Object.keys(STORES).join(', ')})`);
  const redisUrl = apps.includes('redis') ? (process.env.BENCH_REDIS_URL ?? (await startRedisServer()).url) : '';
  const runId = `gi${Date.now().toString(36)}`;
  let counter = 0;
  const freshOrder = (): RequestShape => {
    const n = ++counter;
    const body = `{"amount":2500,"currency":"EUR","reference":"order-${n}"}`;
    return { path: '/orders', headers: { 'idempotency-key': `${runId}-o${n}` }, body };
  };
  const measurements = await runInstructionPhase({
    entries: apps.map((id) => ({
      id,
      app: [id, 'bench/apps/trivial-app.ts', { env: { ...STORES[id], BENCH_REDIS_URL: redisUrl } }],
      request: freshOrder,
    })),
    warmupRequests: Number(process.env.BENCH_CPU_WARMUP ?? 4000),
    windowRequests: Number(process.env.BENCH_CPU_WINDOW ?? 1000),
    windows: Number(process.env.BENCH_CPU_WINDOWS ?? 3),
    parallel: 2,
    keepDumps: process.env.BENCH_KEEP_CALLGRIND === '1',
    check: async (id, load) => {
      if (load.errors || load.non2xx)
        throw new Error(
          `${id}: ${load.errors} errors, ${load.non2xx} non-2xx answers (${JSON.stringify(load.statusCodes)})`,
        );
    },
    log: (message) => console.log(message),
  });
  const perApp = (id: string, gc = true) =>
    median(measurements.filter((m) => m.variant === id).map((m) => m.perRequest - (gc ? 0 : m.gcPerRequest)))!;
  // Above the floor window by window, then the median: the windows of one app drift down as V8 goes on optimising,
  // and the same window of two apps has had the same number of requests.
  const aboveFloor = (id: string, floor: string) => {
    const floorByWindow = new Map(measurements.filter((m) => m.variant === floor).map((m) => [m.round, m.perRequest]));
    return median(measurements.filter((m) => m.variant === id).map((m) => m.perRequest - floorByWindow.get(m.round)!))!;
  };
  const floor = apps.find((app) => app.startsWith('interceptor'));
  for (const id of apps) {
    const above =
      floor && id !== floor ? ` (${Math.round(aboveFloor(id, floor)).toLocaleString('en')} above ${floor})` : '';
    // Without GC too: a window with a major collection moves the figure by more than most changes to the code.
    const mutator = Math.round(perApp(id, false)).toLocaleString('en');
    console.log(
      `${id.padEnd(18)} ${Math.round(perApp(id)).toLocaleString('en')} instructions/request${above}; ${mutator} without GC`,
    );
  }
}

main()
  .catch((error) => {
    console.error(error);
    process.exitCode = 1;
  })
  .finally(() => stopAll());
