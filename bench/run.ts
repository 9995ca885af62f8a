/*
 * `npm run bench`: what idempotency costs per request, measured against unguarded baselines in the same run.
 *
 * Every app under test runs in its own child process (bench/apps/*, bench/peer-node-idempotency/app.ts; the trivial
 * app also on NestJS 12, compiled into bench/nest12 and run with plain node: bench/lib/nest12.ts). After a
 * warm-up the harness runs the variants round by round (A B C …, then … C B A, rotated from round to round), with
 * autocannon's programmatic API, and reports per variant the median over rounds and the ratio to its own
 * unguarded baseline. The machine is shared and noisy: ratios, not absolute figures, are the result.
 *
 * It writes docs/benchmarks.md, docs/benchmarks.svg and docs/capacity.md (not when BENCH_ONLY narrows the run).
 *
 * Settings (environment): BENCH_ROUNDS (6), BENCH_DURATION seconds per measurement (3), BENCH_WARMUP seconds (3),
 * BENCH_CONNECTIONS (50), BENCH_ONLY=variant,... (baselines, floors and the peer its targets need are added),
 * BENCH_PROFILE=app,... (V8's CPU profile of those apps over the measured rounds; see bench/profile-summary.ts),
 * BENCH_POSTGRES_URL (postgres://postgres@127.0.0.1:5432/test), BENCH_MARIADB_URL (mysql://root@127.0.0.1:3306),
 * BENCH_REDIS_URL (default: a dedicated redis-server the bench starts), BENCH_PIN=0 (no taskset pinning: lib/cpu-pinning.ts),
 * BENCH_INSTRUCTIONS=0 (no instruction counts under callgrind: the CPU targets are then read from CPU time),
 * BENCH_CPU_WARMUP requests (4000), BENCH_CPU_WINDOW requests (1000), BENCH_CPU_WINDOWS (4) of that phase,
 * BENCH_KEEP_CALLGRIND=1 (keep its callgrind dumps, for callgrind_annotate),
 * BENCH_STRICT=1 (exit 2 when a speed target
 * is missed; bench/lib/targets.ts), BENCH_RENDER_ONLY=1 (rewrite the docs from the local bench/last-run.json).
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import Redis from 'ioredis';
import { createConnection as connectMariadb, RowDataPacket } from 'mysql2/promise';
import { Client } from 'pg';
import type { AppStats } from './apps/app-process';
import { LoadResult, RequestShape, runLoad } from './lib/load';
import { NEST12_DIR, prepareNest12 } from './lib/nest12';
import { choosePinning, pin } from './lib/cpu-pinning';
import { commonRate, runFixedRatePhase } from './lib/fixed-rate-phase';
import { callgrindAvailable } from './lib/instruction-count';
import { runInstructionPhase } from './lib/instruction-phase';
import { median, roundOrder } from './lib/stats';
import { repeats } from './lib/targets';
import { capacityRunOf, readRecordSizes, saveCapacityRun } from './lib/capacity-inputs';
import { AppProcess, REPO_ROOT, runningCount, startRedisServer, stopAll } from './lib/processes';
import {
  BenchReport,
  Measurement,
  renderBenchmarks,
  renderCapacity,
  renderChart,
  summarise,
  VariantInfo,
} from './lib/report';
import type { Target } from './lib/targets';

const PEER_DIR = join(REPO_ROOT, 'bench/peer-node-idempotency');
/** The raw figures of the last full run, from which `BENCH_RENDER_ONLY=1` rewrites the docs without measuring. */
const LAST_RUN = join(REPO_ROOT, 'bench/last-run.json');
const API_KEY = 'sk_bench_merchant_one';
const CUSTOMERS = 200;
/** The light load under which the Redis store's acquire latency is the round trip itself: one client at a time. */
const LIGHT_LOAD = { connections: 1 };
/** The large response of the compression and encryption variants: an order with its line items, as JSON. */
const LARGE_RESPONSE_BYTES = 8_000;
/** maxEntries of the replay variant with `localCache` on: far more than the one record it replays. */
const LOCAL_CACHE_ENTRIES = 10_000;
/** maxEntries of the memory store measured full (filled to it before the run): ten times the default. */
const MEMORY_FULL_ENTRIES = 1_000_000;

type AppSpec = ConstructorParameters<typeof AppProcess>;

interface Settings {
  rounds: number;
  durationS: number;
  warmupS: number;
  connections: number;
  only: string[] | null;
  profile: string[];
  postgresUrl: string;
  mariadbUrl: string;
  redisUrl: string | null;
  strict: boolean;
  /** The instruction-count phase (bench/lib/instruction-phase.ts); null when BENCH_INSTRUCTIONS=0. */
  instructions: { warmupRequests: number; windowRequests: number; windows: number } | null;
}

function readSettings(env = process.env): Settings {
  const int = (name: string, fallback: number, min: number) => {
    const value = env[name] === undefined || env[name] === '' ? fallback : Number(env[name]);
    if (!Number.isInteger(value) || value < min)
      throw new Error(`${name} must be an integer >= ${min}, got ${env[name]}`);
    return value;
  };
  const list = (name: string) =>
    env[name]
      ? env[name]!.split(',')
          .map((part) => part.trim())
          .filter(Boolean)
      : null;
  return {
    rounds: int('BENCH_ROUNDS', 6, 2),
    durationS: int('BENCH_DURATION', 3, 1),
    warmupS: int('BENCH_WARMUP', 3, 1),
    connections: int('BENCH_CONNECTIONS', 50, 1),
    only: list('BENCH_ONLY'),
    profile: list('BENCH_PROFILE') ?? [],
    postgresUrl: env.BENCH_POSTGRES_URL ?? env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test',
    mariadbUrl: env.BENCH_MARIADB_URL || 'mysql://root@127.0.0.1:3306',
    redisUrl: env.BENCH_REDIS_URL || null,
    strict: env.BENCH_STRICT === '1',
    instructions:
      env.BENCH_INSTRUCTIONS === '0'
        ? null
        : {
            warmupRequests: int('BENCH_CPU_WARMUP', 4000, 0),
            windowRequests: int('BENCH_CPU_WINDOW', 1000, 100),
            windows: int('BENCH_CPU_WINDOWS', 4, 2),
          },
  };
}

/** One variant: an app, the requests sent to it, and what the app must report for the run to count. */
interface Variant extends VariantInfo {
  app: string;
  request: () => RequestShape;
  /** The only outcome the app may report (guarded variants), or none at all (unguarded). */
  expectOutcome: 'executed' | 'replayed' | null;
  /** Redis key pattern of the records this variant writes: its memory and Redis CPU are measured. */
  redisRecords?: string;
  /** Run in the fixed-rate CPU phase too, without a target of its own: a reference the others are read against. */
  cpuReference?: boolean;
  /** More Redis commands per request than this fail the run (a cache that should spare Redis but does not). */
  maxRedisCommandsPerRequest?: number;
}

const cleanups: Array<{ name: string; run: () => Promise<void> | void }> = [];
let cleaningUp: Promise<void> | undefined;

/** Stops every app and server, then drops what setup created; safe to call twice. */
function cleanup(): Promise<void> {
  cleaningUp ??= (async () => {
    await stopAll();
    for (const { name, run } of cleanups.reverse()) {
      try {
        await run();
      } catch (error) {
        console.error(`cleanup of ${name} failed: ${String(error)}`);
      }
    }
  })();
  return cleaningUp;
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    console.error(`\n${signal}: stopping the bench's processes`);
    void cleanup().finally(() => process.exit(130));
  });
}

function log(message: string): void {
  console.log(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}`);
}

async function main(): Promise<number> {
  const settings = readSettings();
  if (process.env.BENCH_RENDER_ONLY === '1') {
    if (!existsSync(LAST_RUN)) throw new Error(`${LAST_RUN} does not exist: run the bench first`);
    return publish(JSON.parse(readFileSync(LAST_RUN, 'utf8')) as BenchReport, { ...settings, only: null });
  }
  const runId = randomBytes(4).toString('hex');
  const started = Date.now();

  // --- Preflight: every service the run needs, or a loud failure naming what is missing.
  log('checking services');
  // Checked first, so a run does not measure for twenty minutes and then stop at its last phase.
  if (settings.instructions && !(await callgrindAvailable()))
    throw new Error(
      'the CPU targets are counted in instructions under valgrind, which is not installed: apt-get install valgrind (or BENCH_INSTRUCTIONS=0)',
    );
  const postgresVersion = await probePostgres(settings.postgresUrl);
  if (!settings.redisUrl) {
    const probe = spawnSync('redis-server', ['--version'], { encoding: 'utf8' });
    if (probe.status !== 0) {
      throw new Error(
        `redis-server is not installed (${probe.error?.message ?? probe.stderr}); install it, or set BENCH_REDIS_URL to a Redis to use`,
      );
    }
  }
  installPeer();
  const { pinning, reason: pinningReason } = choosePinning();
  if (pinning) {
    pin(process.pid, pinning.load);
    log(
      `CPU pinning: each app's main thread on core(s) ${pinning.app}; the harness, its load and Redis on ${pinning.load}`,
    );
  } else log(`CPU pinning off: ${pinningReason}`);

  // --- Setup: Redis, databases, files; each registered for cleanup as soon as it exists.
  let redisUrl = settings.redisUrl;
  let redisVersion = '';
  if (!redisUrl) {
    const server = await startRedisServer();
    redisUrl = server.url;
    if (pinning) pin(server.pid, pinning.load);
  }
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1, connectTimeout: 2000, retryStrategy: () => null });
  cleanups.push({ name: 'redis client', run: () => void redis.disconnect() });
  try {
    redisVersion = /redis_version:(\S+)/.exec(await redis.info('server'))?.[1] ?? 'unknown';
  } catch (error) {
    throw new Error(
      `Redis is not reachable at ${redisUrl} (${error instanceof Error ? error.message : String(error)}); start it, or unset BENCH_REDIS_URL to let the bench start its own`,
    );
  }
  log(`Redis ${redisVersion} at ${redisUrl}${settings.redisUrl ? '' : ' (started for the bench)'}`);

  const libDatabase = await createDatabase(settings.postgresUrl, `bench_${runId}_lib`);
  const paymentsDatabase = await createDatabase(settings.postgresUrl, `bench_${runId}_payments`);
  // Created once the selection is known (below), so that a run without MariaDB variants does not need the server.
  const mariadbDatabaseName = `bench_${runId}_lib`;
  const mariadbDatabase = databaseUrl(settings.mariadbUrl, mariadbDatabaseName);
  const sqliteDir = mkdtempSync(join(tmpdir(), 'idempotency-bench-sqlite-'));
  cleanups.push({ name: 'sqlite files', run: () => rmSync(sqliteDir, { recursive: true, force: true }) });
  const profileDir = settings.profile.length ? join(tmpdir(), `idempotency-bench-profiles-${runId}`) : undefined;
  if (profileDir) mkdirSync(profileDir, { recursive: true });

  // --- Apps, each in its own process. The Nest 12 apps are the same trivial app, compiled into bench/nest12.
  const nest12Entry =
    settings.only && !settings.only.some((id) => id.startsWith('nest12-')) ? null : prepareNest12(log);
  const trivial = (name: string, env: Record<string, string>, major: 11 | 12): AppSpec =>
    major === 11
      ? [name, 'bench/apps/trivial-app.ts', { env }]
      : [name, nest12Entry!, { env, plainNode: true, cwd: NEST12_DIR }];
  const redisEnv = { BENCH_STORE: 'redis', BENCH_REDIS_URL: redisUrl };
  const largeResponse = { BENCH_RESPONSE_BYTES: String(LARGE_RESPONSE_BYTES) };
  const trivialApps = (prefix: string, major: 11 | 12): Record<string, AppSpec> => ({
    [`${prefix}-unguarded`]: trivial(`${prefix}-unguarded`, { BENCH_STORE: 'none' }, major),
    [`${prefix}-interceptor`]: trivial(`${prefix}-interceptor`, { BENCH_STORE: 'interceptor' }, major),
    [`${prefix}-interceptor-async`]: trivial(
      `${prefix}-interceptor-async`,
      { BENCH_STORE: 'interceptor-async' },
      major,
    ),
    [`${prefix}-memory`]: trivial(`${prefix}-memory`, { BENCH_STORE: 'memory' }, major),
    [`${prefix}-memory-full`]: trivial(
      `${prefix}-memory-full`,
      { BENCH_STORE: 'memory', BENCH_MEMORY_PREFILL: String(MEMORY_FULL_ENTRIES) },
      major,
    ),
    [`${prefix}-redis`]: trivial(`${prefix}-redis`, { BENCH_STORE: 'redis', BENCH_REDIS_URL: redisUrl }, major),
    [`${prefix}-postgres`]: trivial(
      `${prefix}-postgres`,
      { BENCH_STORE: 'postgres', BENCH_SQL_URL: libDatabase },
      major,
    ),
    [`${prefix}-postgres-tx`]: trivial(
      `${prefix}-postgres-tx`,
      { BENCH_STORE: 'postgres-tx', BENCH_SQL_URL: libDatabase },
      major,
    ),
    [`${prefix}-sqlite`]: trivial(
      `${prefix}-sqlite`,
      { BENCH_STORE: 'sqlite', BENCH_SQL_URL: join(sqliteDir, `${prefix}.sqlite`) },
      major,
    ),
  });
  const appSpecs: Record<string, AppSpec> = {
    ...trivialApps('lib', 11),
    'lib-mariadb': trivial('lib-mariadb', { BENCH_STORE: 'mariadb', BENCH_SQL_URL: mariadbDatabase }, 11),
    // The SQL floors: the same statements by hand on the bare driver (bench/apps/sql-floor.ts), each on its guarded
    // variant's database (their own table there).
    ...Object.fromEntries(
      (
        [
          ['postgres-floor', libDatabase],
          ['postgres-tx-floor', libDatabase],
          ['mariadb-floor', mariadbDatabase],
          ['sqlite-floor', join(sqliteDir, 'lib-floor.sqlite')],
        ] as const
      ).map(([store, url]) => [
        `lib-${store}`,
        trivial(`lib-${store}`, { BENCH_STORE: store, BENCH_SQL_URL: url }, 11),
      ]),
    ),
    'lib-redis-cached': trivial(
      'lib-redis-cached',
      { BENCH_STORE: 'redis', BENCH_REDIS_URL: redisUrl, BENCH_LOCAL_CACHE: String(LOCAL_CACHE_ENTRIES) },
      11,
    ),
    // What each optional feature costs, each app the Redis-guarded one with one feature more.
    'lib-redis-metrics': trivial('lib-redis-metrics', { ...redisEnv, BENCH_TELEMETRY: 'metrics' }, 11),
    'lib-redis-traces': trivial('lib-redis-traces', { ...redisEnv, BENCH_TELEMETRY: 'traces' }, 11),
    'lib-unguarded-large': trivial('lib-unguarded-large', { BENCH_STORE: 'none', ...largeResponse }, 11),
    'lib-redis-large-plain': trivial(
      'lib-redis-large-plain',
      { ...redisEnv, ...largeResponse, BENCH_COMPRESSION: 'off' },
      11,
    ),
    'lib-redis-large-compressed': trivial('lib-redis-large-compressed', { ...redisEnv, ...largeResponse }, 11),
    'lib-redis-large-encrypted': trivial(
      'lib-redis-large-encrypted',
      { ...redisEnv, ...largeResponse, BENCH_ENCRYPTION: 'on' },
      11,
    ),
    ...trivialApps('nest12', 12),
    'peer-unguarded': [
      'peer-unguarded',
      join(PEER_DIR, 'app.ts'),
      { env: { PEER_GUARDED: '0' }, tsProject: join(PEER_DIR, 'tsconfig.json') },
    ],
    'peer-interceptor': [
      'peer-interceptor',
      join(PEER_DIR, 'app.ts'),
      { env: { PEER_GUARDED: 'interceptor' }, tsProject: join(PEER_DIR, 'tsconfig.json') },
    ],
    'peer-redis': [
      'peer-redis',
      join(PEER_DIR, 'app.ts'),
      { env: { PEER_GUARDED: '1', BENCH_REDIS_URL: redisUrl }, tsProject: join(PEER_DIR, 'tsconfig.json') },
    ],
    'payments-redis': [
      'payments-redis',
      'bench/apps/payments-app.ts',
      { env: paymentsEnv(paymentsDatabase, redisUrl, '1') },
    ],
    'payments-unguarded': [
      'payments-unguarded',
      'bench/apps/payments-app.ts',
      { env: paymentsEnv(paymentsDatabase, redisUrl, '0') },
    ],
    // The payments app with IDEMPOTENCY_STORE=typeorm runs the TypeORM store on its own DataSource, in the
    // transactional mode; its unguarded twin differs only by the route's decorator.
    'payments-postgres-tx': [
      'payments-postgres-tx',
      'bench/apps/payments-app.ts',
      { env: paymentsEnv(paymentsDatabase, redisUrl, '1', 'typeorm') },
    ],
    'payments-postgres-unguarded': [
      'payments-postgres-unguarded',
      'bench/apps/payments-app.ts',
      { env: paymentsEnv(paymentsDatabase, redisUrl, '0', 'typeorm') },
    ],
  };

  let counter = 0;
  const order = (reference: string) => `{"amount":2500,"currency":"EUR","reference":"${reference}"}`;
  const freshOrder = (): RequestShape => {
    const n = ++counter;
    return { path: '/orders', headers: { 'idempotency-key': `${runId}-o${n}` }, body: order(`order-${n}`) };
  };
  // Fresh keys of their own, so that the records one variant writes can be told from another's in Redis.
  const freshOrderTagged = (tag: string) => (): RequestShape => {
    const n = ++counter;
    return { path: '/orders', headers: { 'idempotency-key': `${runId}-${tag}${n}` }, body: order(`order-${n}`) };
  };
  const sameOrder = (key: string) => {
    const shape: RequestShape = { path: '/orders', headers: { 'idempotency-key': key }, body: order('order-replayed') };
    return () => shape;
  };
  const auth = { authorization: `Bearer ${API_KEY}` };
  let customers: string[] = [];
  const freshPayment = (): RequestShape => {
    const n = ++counter;
    return {
      path: '/payments',
      headers: { ...auth, 'idempotency-key': `${runId}-p${n}` },
      // Round-robin over many customers, so that concurrent payments seldom wait for one another's row lock.
      body: `{"customerId":"${customers[n % customers.length]}","amount":1,"currency":"EUR","reference":"${runId}-${n}"}`,
    };
  };
  let replayedPayment: RequestShape | undefined;

  // The trivial app's variants, the same on each Nest major, with the same targets against that major's floor.
  const trivialVariants = (prefix: string, idPrefix: string, major: 11 | 12): Variant[] => {
    const group = major === 11 ? 'nest11' : 'nest12';
    const id = (name: string) => `${idPrefix}${name}`;
    const common = { group, baseline: id('unguarded'), floor: id('interceptor'), request: freshOrder } as const;
    // On Nest 11, the SQL stores also stand against their bare-driver floors (sqlFloorVariants).
    const ofFloor = (floorId: string): Target[] =>
      major === 11
        ? [
            { kind: 'of-variant', of: floorId, factor: 0.9 },
            { kind: 'instructions-of-variant', of: floorId, factor: 0.9 },
          ]
        : [];
    return [
      {
        id: id('unguarded'),
        label: `Nest ${major}: unguarded (trivial handler)`,
        group,
        app: `${prefix}-unguarded`,
        baseline: null,
        request: freshOrder,
        expectOutcome: null,
      },
      {
        ...common,
        id: id('interceptor'),
        label: `Nest ${major}: pass-through interceptor (the floor)`,
        app: `${prefix}-interceptor`,
        floor: undefined,
        expectOutcome: null,
        note: 'an interceptor that only returns next.handle(): what Nest charges any interceptor',
      },
      {
        ...common,
        id: id('interceptor-async'),
        label: `Nest ${major}: pass-through interceptor that awaits (answers with a promise)`,
        app: `${prefix}-interceptor-async`,
        expectOutcome: null,
        // Measured with the CPU targets' variants: what awaiting alone adds to the floor, store or no store.
        cpuReference: true,
        note: 'awaits one resolved promise before the handler and one after it, as a guard awaiting a store must',
      },
      {
        ...common,
        id: id('memory'),
        label: `Nest ${major}: memory store, fresh keys`,
        app: `${prefix}-memory`,
        expectOutcome: 'executed',
        targets: [
          { kind: 'cpu-above-floor', maxUs: 20 },
          { kind: 'cpu-above-floor-vs', other: id('redis') },
        ],
      },
      {
        ...common,
        id: id('memory-full'),
        label: `Nest ${major}: memory store at maxEntries (${MEMORY_FULL_ENTRIES}), fresh keys`,
        app: `${prefix}-memory-full`,
        expectOutcome: 'executed',
        // Full costs what empty costs: within 5 µs per request of the empty store, and the same 20 µs bound.
        targets: [
          { kind: 'cpu-above-floor', maxUs: 20 },
          { kind: 'cpu-above-floor-vs', other: id('memory'), slackUs: 5 },
        ],
        note: 'the store filled to its maxEntries before the run: every fresh key evicts the least recently used record',
      },
      {
        ...common,
        id: id('redis'),
        label: `Nest ${major}: Redis store, fresh keys`,
        app: `${prefix}-redis`,
        expectOutcome: 'executed',
        redisRecords: `idempotency:{:${runId}-o*`,
        targets: [
          { kind: 'cpu-above-floor-vs', other: 'peer-redis' },
          { kind: 'acquire-p99', maxMs: 1 },
        ],
      },
      {
        ...common,
        id: id('sqlite'),
        label: `Nest ${major}: SQLite (TypeORM store), fresh keys`,
        app: `${prefix}-sqlite`,
        expectOutcome: 'executed',
        targets: ofFloor('sqlite-floor'),
      },
      {
        ...common,
        id: id('postgres'),
        label: `Nest ${major}: PostgreSQL (TypeORM store), fresh keys`,
        app: `${prefix}-postgres`,
        expectOutcome: 'executed',
        targets: [
          // On Nest 11 the bare driver's claim is measured alongside: what PostgreSQL's commit itself takes.
          { kind: 'acquire-p99', maxMs: 1, ...(major === 11 ? { reference: 'postgres-floor' } : {}) },
          ...ofFloor('postgres-floor'),
        ],
      },
      {
        ...common,
        id: id('postgres-tx'),
        label: `Nest ${major}: PostgreSQL (TypeORM store, transactional mode), fresh keys`,
        app: `${prefix}-postgres-tx`,
        expectOutcome: 'executed',
        targets: ofFloor('postgres-tx-floor'),
        note: 'the record completes inside a BEGIN/COMMIT around the handler; compare with the non-transactional PostgreSQL row',
      },
    ];
  };

  const variants: Variant[] = [
    // Nest 11 keeps its historical ids (unguarded, redis, ...), which BENCH_ONLY and BENCH_PROFILE users know.
    ...trivialVariants('lib', '', 11),
    ...sqlFloorVariants(freshOrder),
    {
      id: 'redis-replay',
      label: 'Nest 11: replay, Redis store (same key, completed)',
      group: 'nest11',
      app: 'lib-redis',
      baseline: 'unguarded',
      request: sameOrder(`${runId}-replayed`),
      expectOutcome: 'replayed',
    },
    {
      id: 'redis-replay-cached',
      label: `Nest 11: replay, Redis store with localCache (maxEntries ${LOCAL_CACHE_ENTRIES})`,
      group: 'nest11',
      app: 'lib-redis-cached',
      baseline: 'unguarded',
      request: sameOrder(`${runId}-replayed-cached`),
      expectOutcome: 'replayed',
      maxRedisCommandsPerRequest: 0.01,
      note: "completed records served from the app's memory: the run fails if these replays send Redis commands",
    },
    ...featureVariants(runId, freshOrderTagged),
    ...trivialVariants('nest12', 'nest12-', 12),
    {
      id: 'peer-unguarded',
      label: 'Peer app unguarded (Nest 10)',
      group: 'peer',
      app: 'peer-unguarded',
      baseline: null,
      request: freshOrder,
      expectOutcome: null,
    },
    {
      id: 'peer-interceptor',
      label: 'Peer app, pass-through interceptor (Nest 10 floor)',
      group: 'peer',
      app: 'peer-interceptor',
      baseline: 'peer-unguarded',
      request: freshOrder,
      expectOutcome: null,
    },
    {
      id: 'peer-redis',
      label: '@node-idempotency/nestjs 1.0.4, Redis, fresh keys',
      group: 'peer',
      app: 'peer-redis',
      baseline: 'peer-unguarded',
      floor: 'peer-interceptor',
      request: freshOrder,
      expectOutcome: null,
      redisRecords: `node-idempotency:POST:/orders:${runId}-o*`,
    },
    {
      id: 'peer-replay',
      label: '@node-idempotency/nestjs 1.0.4, Redis, replay',
      group: 'peer',
      app: 'peer-redis',
      baseline: 'peer-unguarded',
      request: sameOrder(`${runId}-peer-replayed`),
      expectOutcome: null,
    },
    {
      id: 'payments-unguarded',
      label: 'Payments POST /payments, unguarded',
      group: 'payments',
      app: 'payments-unguarded',
      baseline: null,
      request: freshPayment,
      expectOutcome: null,
    },
    {
      id: 'payments-redis',
      label: 'Payments POST /payments, guarded (Redis), fresh keys',
      group: 'payments',
      app: 'payments-redis',
      baseline: 'payments-unguarded',
      request: freshPayment,
      expectOutcome: 'executed',
      redisRecords: `idempotency:{m1:${runId}-p*`,
    },
    {
      id: 'payments-replay',
      label: 'Payments POST /payments, replay (Redis)',
      group: 'payments',
      app: 'payments-redis',
      baseline: 'payments-unguarded',
      request: () => replayedPayment!,
      expectOutcome: 'replayed',
    },
    {
      id: 'payments-postgres-unguarded',
      label: 'Payments POST /payments, unguarded (app with IDEMPOTENCY_STORE=typeorm)',
      group: 'payments',
      app: 'payments-postgres-unguarded',
      baseline: null,
      request: freshPayment,
      expectOutcome: null,
    },
    {
      id: 'payments-postgres-tx',
      label: 'Payments POST /payments, guarded (PostgreSQL, TypeORM store, transactional mode), fresh keys',
      group: 'payments',
      app: 'payments-postgres-tx',
      baseline: 'payments-postgres-unguarded',
      request: freshPayment,
      expectOutcome: 'executed',
      note: "the record is acquired in one statement and completes inside the payment's own transaction",
    },
  ];

  const selected = selectVariants(variants, settings.only);
  let mariadbVersion: string | undefined;
  if (selected.some((variant) => variant.app.includes('mariadb'))) {
    mariadbVersion = await probeMariadb(settings.mariadbUrl);
    log(`MariaDB ${mariadbVersion} at ${settings.mariadbUrl}`);
    await createMariadbDatabase(settings.mariadbUrl, mariadbDatabaseName);
  }
  const apps = new Map<string, AppProcess>();
  for (const name of new Set(selected.map((variant) => variant.app))) {
    const [appName, entry, options] = appSpecs[name];
    const profile = profileDir && settings.profile.includes(name) ? { cpuProfileDir: profileDir } : {};
    const app = new AppProcess(appName, entry, { ...options, ...profile });
    log(`starting ${name}`);
    await app.start();
    if (pinning) pin(app.pid!, pinning.app, false);
    apps.set(name, app);
  }

  // --- Data the variants need: customers for payments, completed records for the replay variants.
  // The payments apps share one database, so customers made through any of them serve them all.
  const paymentsApp = [...apps.keys()].find((name) => name.startsWith('payments-'));
  if (paymentsApp) customers = await createCustomers(apps.get(paymentsApp)!.url, runId);
  if (apps.has('payments-redis')) replayedPayment = freshPayment();
  for (const variant of selected.filter((v) => v.id.includes('replay'))) {
    await checkReplay(apps.get(variant.app)!.url, variant.request());
  }

  // --- Warm-up, then the rounds.
  log(`warming up ${selected.length} variants, ${settings.warmupS} s each`);
  for (const variant of selected) {
    const app = apps.get(variant.app)!;
    const result = await runLoad(app.url, variant.request, {
      connections: settings.connections,
      durationS: settings.warmupS,
    });
    await app.settle();
    await assertClean(variant, result, app);
  }
  // Profiles cover the measured rounds only: start-up and warm-up are over by now.
  for (const app of apps.values()) await app.startProfile();
  const measurements: Measurement[] = [];
  for (let round = 0; round < settings.rounds; round++) {
    const order = roundOrder(selected, round);
    log(`round ${round + 1}/${settings.rounds}: ${order.map((v) => v.id).join(' ')}`);
    for (const variant of order) {
      const app = apps.get(variant.app)!;
      app.reset();
      const watchRedis = variant.redisRecords !== undefined || variant.maxRedisCommandsPerRequest !== undefined;
      const before = watchRedis ? await redisFigures(redis) : undefined;
      const load = await runLoad(app.url, variant.request, {
        connections: settings.connections,
        durationS: settings.durationS,
      });
      const after = watchRedis ? await redisFigures(redis) : undefined;
      const stats = await app.stats();
      // Requests autocannon left in flight finish before the next measurement starts on this app.
      await app.settle();
      await assertClean(variant, load, app);
      assertOutcomes(variant, stats, load);
      const redisCost = before && after ? redisDelta(variant, before, after, load) : undefined;
      measurements.push({ variant: variant.id, round, load, stats, redis: redisCost });
      log(
        `  ${variant.id.padEnd(20)} ${load.rps.toFixed(0).padStart(6)} req/s  p50 ${load.latencyP50Ms} ms  p99 ${load.latencyP99Ms} ms` +
          (stats.acquireP99Ms !== null
            ? `  acquire p50 ${stats.acquireP50Ms!.toFixed(3)} p99 ${stats.acquireP99Ms.toFixed(3)} ms`
            : '') +
          `  app CPU ${(stats.cpuUs / Math.max(1, load.requests)).toFixed(0)} µs/req`,
      );
    }
  }
  for (const app of apps.values()) await app.stopProfile();

  // --- CPU per request at one fixed rate, and acquire latency at half of each variant's saturating rate.
  const saturated = (id: string) => median(measurements.filter((m) => m.variant === id).map((m) => m.load.rps)) ?? 0;
  const phaseEntry = (variant: Variant, rate: number) => ({
    id: variant.id,
    app: apps.get(variant.app)!,
    request: variant.request,
    rate,
  });
  // The app that served the measurement: the instruction phase's run under callgrind, apart from the timed ones.
  const checkMeasurement = async (id: string, load: LoadResult, stats: AppStats, app: AppProcess) => {
    const variant = selected.find((v) => v.id === id)!;
    await assertClean(variant, load, app);
    assertOutcomes(variant, stats, load);
  };
  const phase = (entries: ReturnType<typeof phaseEntry>[]) => ({
    entries,
    rounds: settings.rounds,
    durationS: settings.durationS,
    connections: settings.connections,
    check: checkMeasurement,
    log,
  });
  const cpuVariants = selected.filter((v) => cpuCompared(selected).has(v.id));
  let fixedRate: BenchReport['fixedRate'];
  if (cpuVariants.length) {
    const rate = commonRate(cpuVariants.map((v) => saturated(v.id)));
    log(
      `app CPU at a fixed ${rate} req/s (half the slowest of them at saturation): ${cpuVariants.map((v) => v.id).join(' ')}`,
    );
    const cpuMeasurements = await runFixedRatePhase(phase(cpuVariants.map((v) => phaseEntry(v, rate))));
    fixedRate = { rate, measurements: cpuMeasurements };
  }
  const latencyIds = new Set(
    selected.flatMap((v) =>
      (v.targets ?? []).flatMap((t) => (t.kind === 'acquire-p99' ? [v.id, ...(t.reference ? [t.reference] : [])] : [])),
    ),
  );
  const latencyVariants = selected.filter((v) => latencyIds.has(v.id));
  let openLoop: BenchReport['openLoop'];
  if (latencyVariants.length) {
    log(`acquire latency at half the saturating rate, open loop: ${latencyVariants.map((v) => v.id).join(' ')}`);
    openLoop = await runFixedRatePhase(
      phase(latencyVariants.map((v) => phaseEntry(v, Math.max(50, Math.round(saturated(v.id) / 2))))),
    );
  }

  // --- Acquire latency of the Redis store under light load, where it is the round trip rather than the queue.
  const unsaturated: AppStats[] = [];
  if (apps.has('lib-redis') && selected.some((v) => v.id === 'redis')) {
    const redisVariant = selected.find((v) => v.id === 'redis')!;
    const app = apps.get('lib-redis')!;
    log('acquire latency of the Redis store under light load (one connection)');
    for (let i = 0; i < 3; i++) {
      app.reset();
      const load = await runLoad(app.url, redisVariant.request, { ...LIGHT_LOAD, durationS: settings.durationS });
      await assertClean(redisVariant, load, app);
      unsaturated.push(await app.stats());
      await app.settle();
    }
  }

  // --- The store's acquire alone, called one at a time from this (otherwise idle) process: the round trip's floor.
  let directAcquire: { p50Ms: number; p99Ms: number; calls: number } | undefined;
  if (selected.some((v) => v.id === 'redis')) directAcquire = await measureDirectAcquire(redisUrl, runId);

  // --- Instructions per request under callgrind, last: it loads both cores, and counts do not mind, timings would.
  let instructions: BenchReport['instructions'];
  const countedVariants = selected.filter((v) => instructionCompared(selected).has(v.id));
  if (countedVariants.length && settings.instructions) {
    const { warmupRequests, windowRequests, windows } = settings.instructions;
    log(
      `instructions per request under callgrind, ${warmupRequests} requests of warm-up, ${windows} windows of ${windowRequests}: ${countedVariants.map((v) => v.id).join(' ')}`,
    );
    const counted = await runInstructionPhase({
      entries: countedVariants.map((v) => ({ id: v.id, app: appSpecs[v.app], request: v.request })),
      ...settings.instructions,
      parallel: 2,
      keepDumps: process.env.BENCH_KEEP_CALLGRIND === '1',
      check: checkMeasurement,
      log,
    });
    instructions = { ...settings.instructions, measurements: counted };
  }

  // --- Bytes per record: MEMORY USAGE of records the run wrote.
  const recordSizes = [];
  for (const variant of selected.filter((v) => v.redisRecords)) {
    recordSizes.push({ variant: variant.id, ...(await sampleRecords(redis, variant.redisRecords!)) });
  }

  await stopAll();
  if (runningCount() !== 0) throw new Error(`${runningCount()} bench process(es) still running after stopAll`);

  const report: BenchReport = {
    command: commandLine(),
    date: new Date().toISOString(),
    elapsedS: (Date.now() - started) / 1000,
    settings: {
      rounds: settings.rounds,
      durationS: settings.durationS,
      warmupS: settings.warmupS,
      connections: settings.connections,
    },
    machine: {
      cores: cpus().length,
      cpuModel: cpus()[0]?.model ?? 'unknown',
      memoryGiB: totalmem() / 2 ** 30,
      node: process.version,
      redis: redisVersion,
      postgres: postgresVersion,
      mariadb: mariadbVersion,
      platform: `${process.platform} ${process.arch}`,
      nest: nestVersions(selected),
    },
    variants: selected.map(({ id, label, group, baseline, floor, reference, targets, note }) => ({
      id,
      label,
      group,
      baseline,
      floor,
      reference,
      targets,
      note,
    })),
    measurements,
    unsaturatedAcquire: unsaturated,
    directAcquire,
    fixedRate,
    openLoop,
    instructions,
    pinning: pinning ?? { unpinned: pinningReason },
    recordSizes,
    largeResponseBytes: LARGE_RESPONSE_BYTES,
    profiled: profileDir ? { dir: profileDir, apps: settings.profile } : undefined,
  };
  if (!settings.only) writeFileSync(LAST_RUN, `${JSON.stringify(report, null, 1)}\n`);
  return publish(report, settings);
}

/** Prints the table and the targets, and writes the docs (not for a narrowed run). */
function publish(report: BenchReport, settings: Pick<Settings, 'only' | 'strict' | 'profile'>): number {
  const summary = summarise(report);
  const profileDir = report.profiled?.dir;
  console.log(`\n${summary.table}\n`);
  console.log(`Targets:\n\n${summary.targetsTable}\n`);
  if (profileDir)
    console.log(
      `\nCPU profiles: ${profileDir} (summarise with: npx ts-node --transpile-only bench/profile-summary.ts <file>)`,
    );

  if (settings.only) {
    log('BENCH_ONLY narrowed the run: docs not written');
  } else {
    const docs = join(REPO_ROOT, 'docs');
    mkdirSync(docs, { recursive: true });
    writeFileSync(join(docs, 'benchmarks.md'), renderBenchmarks(report, summary));
    writeFileSync(join(docs, 'benchmarks.svg'), renderChart(report, summary));
    // The run's CPU figures are kept for bench/record-sizes.ts, which regenerates the doc without a full run.
    const capacityRun = capacityRunOf(report, summary);
    if (capacityRun) {
      saveCapacityRun(capacityRun);
      writeFileSync(join(docs, 'capacity.md'), renderCapacity(capacityRun, readRecordSizes()));
    }
    log('wrote docs/benchmarks.md, docs/benchmarks.svg, docs/capacity.md');
  }
  log(`done in ${report.elapsedS.toFixed(0)} s`);
  const count = (verdict: string) => summary.targets.filter((row) => row.verdict === verdict).length;
  const unrepeated = summary.targets.filter((row) => repeats(row) === false);
  log(
    `targets: ${count('met')} met, ${count('missed')} missed, ${count('undecided')} undecided, ${count('not measured')} not measured; ` +
      `${unrepeated.length} figure(s) differ between the halves of the run by more than their tolerance`,
  );
  // Strict: every measured target met, with a figure that repeats; an undecided one does not pass for met.
  const failing = summary.targets.filter(
    (row) => row.verdict === 'missed' || row.verdict === 'undecided' || repeats(row) === false,
  );
  if (settings.strict && failing.length) {
    log(
      `BENCH_STRICT=1: not met: ${failing.map((row) => `${row.variant}: ${row.figure} ${row.required} (${row.verdict}${repeats(row) === false ? ', does not repeat' : ''})`).join('; ')}`,
    );
    return 2;
  }
  return 0;
}

/** The command as it was run: `npm run bench` with the settings given in the environment. */
function commandLine(env = process.env): string {
  const given = [
    'BENCH_ROUNDS',
    'BENCH_DURATION',
    'BENCH_WARMUP',
    'BENCH_CONNECTIONS',
    'BENCH_ONLY',
    'BENCH_PROFILE',
    'BENCH_STRICT',
  ].filter((name) => env[name]);
  return [...given.map((name) => `${name}=${env[name]}`), 'npm run bench'].join(' ');
}

/** The NestJS version of each major the run measured. */
function nestVersions(selected: Variant[]): Record<string, string> {
  const version = (dir: string) =>
    (JSON.parse(readFileSync(join(dir, 'node_modules/@nestjs/core/package.json'), 'utf8')) as { version: string })
      .version;
  const versions: Record<string, string> = {};
  if (selected.some((v) => v.group === 'nest11' || v.group === 'payments')) versions['11'] = version(REPO_ROOT);
  if (selected.some((v) => v.group === 'nest12')) versions['12'] = version(NEST12_DIR);
  if (selected.some((v) => v.group === 'peer')) versions['10'] = version(PEER_DIR);
  return versions;
}

function paymentsEnv(
  databaseUrl: string,
  redisUrl: string,
  guarded: '0' | '1',
  store: 'redis' | 'typeorm' = 'redis',
): Record<string, string> {
  return {
    DATABASE_URL: databaseUrl,
    // Four payments apps on one server: ten connections each keep the bench within PostgreSQL's 100.
    DATABASE_POOL_SIZE: '10',
    IDEMPOTENCY_STORE: store,
    REDIS_URL: redisUrl,
    API_KEYS: `m1:${API_KEY}`,
    PORT: '0',
    BENCH_PAYMENTS_GUARDED: guarded,
  };
}

/**
 * The SQL floors (Nest 11): the trivial app guarded by the statements a fresh key costs each engine, written by hand
 * on the bare driver (bench/apps/sql-floor.ts), with the MariaDB store that has no Nest 12 twin; the SQL stores'
 * `of-variant` targets are stated against these.
 */
function sqlFloorVariants(request: () => RequestShape): Variant[] {
  const common = { group: 'nest11', baseline: 'unguarded', floor: 'interceptor', request } as const;
  const floor = (id: string, name: string, note: string): Variant => ({
    ...common,
    id,
    label: `Nest 11: ${name}, fresh keys`,
    app: `lib-${id}`,
    // The floor reports each request it completed, as the library's events hook would.
    expectOutcome: 'executed',
    note,
  });
  return [
    {
      ...common,
      id: 'mariadb',
      label: 'Nest 11: MariaDB (TypeORM store), fresh keys',
      app: 'lib-mariadb',
      expectOutcome: 'executed',
      targets: [
        { kind: 'of-variant', of: 'mariadb-floor', factor: 0.9 },
        { kind: 'instructions-of-variant', of: 'mariadb-floor', factor: 0.9 },
      ],
    },
    floor(
      'postgres-floor',
      'PostgreSQL bare driver',
      "the store's insert and completion as named statements on a pg.Pool of 20",
    ),
    floor(
      'postgres-tx-floor',
      'PostgreSQL bare driver, hand-written transaction',
      'the insert (no flush wait), then BEGIN, the handler, the completion, COMMIT on one client; a pg.Pool of 10',
    ),
    floor(
      'mariadb-floor',
      'MariaDB bare driver',
      "the store's upsert and completion through mysql2/promise execute, a pool of 20",
    ),
    floor(
      'sqlite-floor',
      'SQLite bare driver',
      "the store's insert and completion as better-sqlite3 statements prepared once, WAL",
    ),
  ];
}

/** The variants BENCH_ONLY names, plus what their ratios and targets need: baselines, floors, the peer. */
/**
 * The optional features, each measured against the same app without it (its `reference`), on the Redis store and
 * Nest 11: metrics, then traces on top; and on an 8 KB response, the stored form plain, compressed, then encrypted.
 */
function featureVariants(runId: string, fresh: (tag: string) => () => RequestShape): Variant[] {
  const group = 'features';
  const large = `${(LARGE_RESPONSE_BYTES / 1000).toFixed(0)} KB response`;
  return [
    {
      id: 'redis-metrics',
      label: 'Feature: OpenTelemetry metrics (Redis store)',
      group,
      app: 'lib-redis-metrics',
      baseline: 'unguarded',
      reference: 'redis',
      request: fresh('m'),
      expectOutcome: 'executed',
    },
    {
      id: 'redis-traces',
      label: 'Feature: OpenTelemetry metrics and traces (Redis store)',
      group,
      app: 'lib-redis-traces',
      baseline: 'unguarded',
      reference: 'redis-metrics',
      request: fresh('t'),
      expectOutcome: 'executed',
    },
    {
      id: 'unguarded-large',
      label: `Unguarded, ${large}`,
      group,
      app: 'lib-unguarded-large',
      baseline: null,
      request: fresh('u'),
      expectOutcome: null,
    },
    {
      id: 'redis-large-plain',
      label: `Redis store, ${large}, stored as JSON (compression off)`,
      group,
      app: 'lib-redis-large-plain',
      baseline: 'unguarded-large',
      request: fresh('p'),
      expectOutcome: 'executed',
      redisRecords: `idempotency:{:${runId}-p*`,
    },
    {
      id: 'redis-large-compressed',
      label: `Feature: compression (Redis store, ${large})`,
      group,
      app: 'lib-redis-large-compressed',
      baseline: 'unguarded-large',
      reference: 'redis-large-plain',
      request: fresh('c'),
      expectOutcome: 'executed',
      redisRecords: `idempotency:{:${runId}-c*`,
    },
    {
      id: 'redis-large-encrypted',
      label: `Feature: encryption at rest, on top of compression (Redis store, ${large})`,
      group,
      app: 'lib-redis-large-encrypted',
      baseline: 'unguarded-large',
      reference: 'redis-large-compressed',
      request: fresh('e'),
      expectOutcome: 'executed',
      redisRecords: `idempotency:{:${runId}-e*`,
    },
  ];
}

function selectVariants(all: Variant[], only: string[] | null): Variant[] {
  if (!only) return all;
  const unknown = only.filter((id) => !all.some((variant) => variant.id === id));
  if (unknown.length)
    throw new Error(
      `BENCH_ONLY names unknown variants: ${unknown.join(', ')} (known: ${all.map((v) => v.id).join(', ')})`,
    );
  const wanted = new Set<string>();
  const want = (id: string | null | undefined) => {
    const variant = all.find((v) => v.id === id);
    if (!variant || wanted.has(variant.id)) return;
    wanted.add(variant.id);
    want(variant.baseline);
    want(variant.floor);
    want(variant.reference);
    for (const target of variant.targets ?? []) {
      if (target.kind === 'of-variant' || target.kind === 'instructions-of-variant') want(target.of);
      if (target.kind === 'cpu-above-floor-vs') want(target.other);
      if (target.kind === 'acquire-p99') want(target.reference);
    }
  };
  only.forEach(want);
  return all.filter((variant) => wanted.has(variant.id));
}

/** The variants the CPU targets compare: those with a CPU target, what they are compared with, and their floors. */
function cpuCompared(selected: Variant[]): Set<string> {
  const ids = new Set<string>();
  const add = (id: string | undefined) => {
    const variant = selected.find((v) => v.id === id);
    if (!variant || ids.has(variant.id)) return;
    ids.add(variant.id);
    add(variant.floor);
  };
  for (const variant of selected)
    for (const target of variant.targets ?? []) {
      if (target.kind === 'cpu-above-floor') add(variant.id);
      if (target.kind === 'cpu-above-floor-vs') [variant.id, target.other].forEach(add);
    }
  // References come along only when there is something to read them against.
  if (ids.size) for (const variant of selected) if (variant.cpuReference) add(variant.id);
  return ids;
}

/**
 * The variants counted in instructions: those the CPU targets compare, and the SQL stores with their bare-driver
 * floors (their instruction targets; the fixed-rate CPU phase leaves them out, as its rate is half the slowest).
 */
function instructionCompared(selected: Variant[]): Set<string> {
  const ids = cpuCompared(selected);
  for (const variant of selected)
    for (const target of variant.targets ?? [])
      if (target.kind === 'instructions-of-variant' && selected.some((v) => v.id === target.of))
        [variant.id, target.of].forEach((id) => ids.add(id));
  return ids;
}

/** Installs the peer's own dependencies (Nest 10) from its lock file when they are missing. */
function installPeer(): void {
  if (existsSync(join(PEER_DIR, 'node_modules/@node-idempotency/nestjs/package.json'))) return;
  log('installing bench/peer-node-idempotency (npm ci)');
  const result = spawnSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: PEER_DIR, stdio: 'inherit' });
  if (result.status !== 0)
    throw new Error(`npm ci in bench/peer-node-idempotency failed (${result.status ?? result.error?.message})`);
}

// The apps' pools on PostgreSQL add up to more than a default server's 100 connections (20 for each trivial app's
// postgres, 10 for its postgres-tx, on each Nest major; 20 and 10 for their bare-driver floors on Nest 11; 10 for each
// payments app), but pg closes a client idle for 10 s,
// so only the app under load and the two measured before it hold theirs at once: the three largest pools, plus
// set-up connections.
const POSTGRES_CONNECTIONS_NEEDED = 20 + 20 + 20 + 4;

/**
 * Checks that PostgreSQL answers and has room for the bench's connection pools. Other work on a shared server can
 * hold connections for a while, so a lack of room is waited out for up to two minutes before the run fails.
 */
async function probePostgres(url: string): Promise<string> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    const client = new Client({ connectionString: url, connectionTimeoutMillis: 3000 });
    let free: number;
    let version: string;
    try {
      await client.connect();
      const { rows } = await client.query<{ server_version: string; free: string }>(
        "SELECT current_setting('server_version') AS server_version, " +
          "current_setting('max_connections')::int - current_setting('superuser_reserved_connections')::int - (SELECT count(*) FROM pg_stat_activity) AS free",
      );
      version = rows[0].server_version;
      free = Number(rows[0].free);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      if (/too many clients/.test(reason) && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 5000));
        continue;
      }
      throw new Error(`PostgreSQL is not usable at ${url} (${reason}); start it or set BENCH_POSTGRES_URL`);
    } finally {
      await client.end().catch(() => undefined);
    }
    if (free >= POSTGRES_CONNECTIONS_NEEDED) return version;
    if (Date.now() >= deadline) {
      throw new Error(
        `PostgreSQL at ${url} has ${free} free connections; the bench needs ${POSTGRES_CONNECTIONS_NEEDED} (see pg_stat_activity for who holds them)`,
      );
    }
    log(`PostgreSQL has ${free} free connections, the bench needs ${POSTGRES_CONNECTIONS_NEEDED}: waiting`);
    await new Promise((resolve) => setTimeout(resolve, 5000));
  }
}

/** The URL of database `name` on the server of `serverUrl`. */
function databaseUrl(serverUrl: string, name: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/** Checks that MariaDB answers; its version. */
async function probeMariadb(url: string): Promise<string> {
  try {
    const connection = await connectMariadb({ uri: url, connectTimeout: 3000 });
    try {
      const [rows] = await connection.query<RowDataPacket[]>('SELECT VERSION() AS version');
      return String(rows[0].version);
    } finally {
      await connection.end();
    }
  } catch (error) {
    throw new Error(
      `MariaDB is not usable at ${url} (${error instanceof Error ? error.message : String(error)}); start it or set BENCH_MARIADB_URL`,
    );
  }
}

/** A throwaway MariaDB database, dropped at the end of the run. */
async function createMariadbDatabase(serverUrl: string, name: string): Promise<void> {
  const run = async (sql: string) => {
    const connection = await connectMariadb({ uri: serverUrl, connectTimeout: 3000 });
    try {
      await connection.query(sql);
    } finally {
      await connection.end();
    }
  };
  await run(`CREATE DATABASE \`${name}\``);
  cleanups.push({ name: `MariaDB database ${name}`, run: () => run(`DROP DATABASE IF EXISTS \`${name}\``) });
}

/** A throwaway database, dropped at the end of the run. */
async function createDatabase(adminUrl: string, name: string): Promise<string> {
  const run = async (sql: string) => {
    const client = new Client({ connectionString: adminUrl, connectionTimeoutMillis: 3000 });
    await client.connect();
    try {
      await client.query(sql);
    } finally {
      await client.end();
    }
  };
  await run(`CREATE DATABASE ${name}`);
  cleanups.push({ name: `database ${name}`, run: () => run(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) });
  return databaseUrl(adminUrl, name);
}

async function createCustomers(url: string, runId: string): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < CUSTOMERS; i++) {
    const response = await fetch(`${url}/customers`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${API_KEY}`,
        'idempotency-key': `${runId}-customer-${i}`,
      },
      body: JSON.stringify({ name: `Bench customer ${i}`, balance: 1_000_000_000 }),
    });
    if (response.status !== 201)
      throw new Error(`creating a customer answered ${response.status}: ${await response.text()}`);
    ids.push(((await response.json()) as { id: string }).id);
  }
  return ids;
}

/** Sends a replay variant's request twice: the first completes the record, the second must be a replay. */
async function checkReplay(url: string, shape: RequestShape): Promise<void> {
  const send = () =>
    fetch(`${url}${shape.path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...shape.headers },
      body: shape.body,
    });
  const first = await send();
  await first.text();
  const second = await send();
  await second.text();
  if (first.status !== 201 || second.status !== 201 || second.headers.get('idempotent-replayed') !== 'true') {
    throw new Error(
      `replay set-up failed on ${url}${shape.path}: ${first.status} then ${second.status} (Idempotent-Replayed: ${second.headers.get('idempotent-replayed')})`,
    );
  }
}

async function assertClean(variant: Variant, load: LoadResult, app: AppProcess): Promise<void> {
  if (load.non2xx > 0 || load.errors > 0 || load.timeouts > 0 || load.requests === 0) {
    // One more request of the same kind, to show what the app answers.
    const shape = variant.request();
    const sample = await fetch(`${app.url}${shape.path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...shape.headers },
      body: shape.body,
    })
      .then(async (response) => `${response.status} ${(await response.text()).slice(0, 300)}`)
      .catch((error: unknown) => String(error));
    throw new Error(
      `${variant.id}: ${load.non2xx} non-2xx (by status: ${JSON.stringify(load.statusCodes)}), ${load.errors} errors, ${load.timeouts} timeouts ` +
        `of ${load.requests} requests; the bench would measure the wrong path.\nA request sent now gets: ${sample}\n` +
        `The app's last output:\n${app.recentOutput().slice(-2000)}`,
    );
  }
}

function assertOutcomes(variant: Variant, stats: AppStats, load: LoadResult): void {
  const outcomes = Object.entries(stats.outcomes);
  const unexpected = outcomes.filter(([outcome]) => outcome !== variant.expectOutcome);
  const expected = variant.expectOutcome ? (stats.outcomes[variant.expectOutcome] ?? 0) : 0;
  // Requests still in flight when autocannon stops are counted by the app but not by autocannon, hence the slack.
  if (unexpected.length || (variant.expectOutcome && expected < load.requests * 0.95)) {
    throw new Error(
      `${variant.id}: the app reported ${JSON.stringify(stats.outcomes)} for ${load.requests} requests, expected only '${variant.expectOutcome ?? 'no events'}'`,
    );
  }
}

interface RedisFigures {
  usedMemory: number;
  keys: number;
  cpuS: number;
  /** Commands the server has processed since it started. */
  commands: number;
}

async function redisFigures(redis: Redis): Promise<RedisFigures> {
  const info = await redis.info();
  const field = (name: string) => Number(new RegExp(`^${name}:(\\S+)`, 'm').exec(info)?.[1] ?? NaN);
  return {
    usedMemory: field('used_memory'),
    keys: await redis.dbsize(),
    cpuS: field('used_cpu_sys') + field('used_cpu_user'),
    commands: field('total_commands_processed'),
  };
}

function redisDelta(variant: Variant, before: RedisFigures, after: RedisFigures, load: LoadResult) {
  const keys = after.keys - before.keys;
  const fresh = variant.expectOutcome !== 'replayed' && !variant.id.includes('replay');
  if (fresh && variant.redisRecords && keys < load.requests * 0.95)
    throw new Error(`${variant.id}: ${load.requests} requests wrote only ${keys} Redis keys`);
  const commandsPerRequest = (after.commands - before.commands) / Math.max(1, load.requests);
  if (variant.maxRedisCommandsPerRequest !== undefined && commandsPerRequest > variant.maxRedisCommandsPerRequest) {
    throw new Error(
      `${variant.id}: ${commandsPerRequest.toFixed(2)} Redis commands per request (at most ${variant.maxRedisCommandsPerRequest} expected): ` +
        'the cache is not serving these requests (does this library have the localCache option yet?)',
    );
  }
  return {
    keys,
    bytesPerKey: keys > 0 ? (after.usedMemory - before.usedMemory) / keys : null,
    cpuUsPerRequest: ((after.cpuS - before.cpuS) * 1e6) / Math.max(1, load.requests),
  };
}

/** Latency of `RedisIdempotencyStore.acquire` called one at a time, 5,000 times, on new keys. */
async function measureDirectAcquire(
  redisUrl: string,
  runId: string,
): Promise<{ p50Ms: number; p99Ms: number; calls: number }> {
  const { RedisIdempotencyStore } = await import('@nest-idempotency/core/redis');
  const store = new RedisIdempotencyStore(redisUrl);
  try {
    const calls = 5000;
    const latencies = new Float64Array(calls);
    for (let i = 0; i < calls + 500; i++) {
      const started = performance.now();
      await store.acquire(
        { namespace: 'bench-direct', scope: '', key: `${runId}-${i}` },
        { fingerprint: 'f'.repeat(64), token: 't', leaseMs: 30_000, ttlMs: 60_000 },
      );
      // The first 500 calls warm up the connection and the JIT.
      if (i >= 500) latencies[i - 500] = performance.now() - started;
    }
    latencies.sort();
    return { p50Ms: latencies[Math.ceil(calls * 0.5) - 1], p99Ms: latencies[Math.ceil(calls * 0.99) - 1], calls };
  } finally {
    await store.close();
  }
}

/** MEMORY USAGE (and key/value length) of up to 200 records matching `pattern`. */
async function sampleRecords(redis: Redis, pattern: string) {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    keys.push(...batch);
  } while (cursor !== '0' && keys.length < 200);
  const sample = keys.slice(0, 200);
  if (sample.length === 0) throw new Error(`no Redis record matches ${pattern}`);
  const usage: number[] = [];
  const valueBytes: number[] = [];
  const keyBytes: number[] = [];
  for (const key of sample) {
    usage.push(Number(await redis.memory('USAGE', key, 'SAMPLES', 0)));
    valueBytes.push(await redis.strlen(key));
    keyBytes.push(Buffer.byteLength(key));
  }
  const med = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
  return {
    pattern,
    sampled: sample.length,
    memoryUsage: med(usage),
    valueBytes: med(valueBytes),
    keyBytes: med(keyBytes),
  };
}

main()
  .then(async (code) => {
    await cleanup();
    process.exit(code);
  })
  .catch(async (error: unknown) => {
    console.error(`\nBENCH FAILED: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    await cleanup();
    process.exit(1);
  });
