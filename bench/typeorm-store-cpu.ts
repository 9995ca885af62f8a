/*
 * µs of CPU in this process per guarded request's statements, through TypeOrmIdempotencyStore and through the bare
 * driver under the same DataSource (the floor: the very same statements by hand, `lib/typeorm-bare-requests.ts`),
 * on PostgreSQL, MariaDB and SQLite, for a fresh key (acquire + complete) and a replay (acquire of a completed key):
 *
 *   npx ts-node -r tsconfig-paths/register --transpile-only bench/typeorm-store-cpu.ts
 *
 * The variants run interleaved (each round runs every variant once, in a rotating order) and repeated; each figure
 * is the median over the rounds of process.cpuUsage() per request, with the rounds' range. The database servers'
 * own CPU is not counted; SQLite's is, as it runs in this process (and so in both variants alike).
 * TYPEORM_CPU_ENGINES=postgres,mariadb,sqlite, TYPEORM_CPU_ROUNDS (7), TYPEORM_CPU_REQUESTS per variant and round
 * (2000), TYPEORM_CPU_CONCURRENCY (10, also the pool size), TYPEORM_CPU_ONLY=store-fresh (one variant, for
 * `node --cpu-prof`; bench/profile-summary.ts summarises the profile). TYPEORM_CPU_BASELINE=<another checkout's
 * libs/idempotency/src> adds that checkout's store as `base-*` variants in the same process: a change's before and
 * after, side by side (its `typeorm` and drivers resolve to the same node_modules when both checkouts link them).
 */
import { join } from 'node:path';
import { TypeOrmIdempotencyStore } from '@nest-idempotency/core/typeorm';
import { median } from './lib/stats';
import { bareRequests, REQUEST, Requests, seedKey, SEEDED_KEYS } from './lib/typeorm-bare-requests';
import { Engine, ENGINES, EngineDatabase, openEngine } from './lib/typeorm-engines';

const env = process.env;
const ENGINES_RUN = (env.TYPEORM_CPU_ENGINES?.split(',') ?? ENGINES) as Engine[];
const ROUNDS = Number(env.TYPEORM_CPU_ROUNDS ?? 7);
const REQUESTS = Number(env.TYPEORM_CPU_REQUESTS ?? 2000);
const CONCURRENCY = Number(env.TYPEORM_CPU_CONCURRENCY ?? 10);
const ONLY = env.TYPEORM_CPU_ONLY;
const BASELINE = env.TYPEORM_CPU_BASELINE;

interface Variant {
  name: string;
  run: (n: number) => Promise<void>;
  /** µs of CPU per request, one per round. */
  figures: number[];
}

/** The store class of the baseline checkout, when one is given. */
function baselineStoreClass(): typeof TypeOrmIdempotencyStore | undefined {
  if (!BASELINE) return undefined;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (require(join(BASELINE, 'typeorm')) as { TypeOrmIdempotencyStore: typeof TypeOrmIdempotencyStore })
    .TypeOrmIdempotencyStore;
}

// Every request gets a number of its own, so no two fresh requests of any variant or round share a key.
let nextRequest = 0;

/** The store's side: the calls the library's interceptor makes for the same requests. */
function storeRequests(store: TypeOrmIdempotencyStore): Requests {
  const { namespace, scope, fingerprint, leaseMs, ttlMs, response } = REQUEST;
  return {
    async fresh(n) {
      const id = { namespace, scope, key: `fresh-${n}` };
      const token = `t${n}`;
      const result = await store.acquire(id, { fingerprint, token, leaseMs, ttlMs });
      if (result.state !== 'acquired') throw new Error(`store: ${id.key} was not fresh`);
      if (!(await store.complete(id, token, response, ttlMs))) throw new Error(`store: ${id.key} did not complete`);
    },
    async replay(n) {
      const id = { namespace, scope, key: seedKey(n) };
      const result = await store.acquire(id, { fingerprint, token: `t${n}`, leaseMs, ttlMs });
      if (result.state !== 'completed') throw new Error(`store: ${id.key} was not a replay`);
    },
  };
}

/** Runs `count` requests, `CONCURRENCY` at a time; µs of this process's CPU per request. */
async function measure(run: (n: number) => Promise<void>, count: number): Promise<number> {
  let left = count;
  const caller = async () => {
    while (left-- > 0) await run(nextRequest++);
  };
  const before = process.cpuUsage();
  await Promise.all(Array.from({ length: CONCURRENCY }, caller));
  const used = process.cpuUsage(before);
  return (used.user + used.system) / count;
}

async function benchEngine(engine: Engine): Promise<void> {
  let database: EngineDatabase | undefined;
  let store: TypeOrmIdempotencyStore | undefined;
  let baseline: TypeOrmIdempotencyStore | undefined;
  try {
    database = await openEngine(engine, CONCURRENCY);
    store = new TypeOrmIdempotencyStore(database.dataSource, { sweepIntervalMs: 0 });
    await store.start();
    const viaStore = storeRequests(store);
    const Baseline = baselineStoreClass();
    baseline = Baseline && new Baseline(database.dataSource, { sweepIntervalMs: 0 });
    const viaBaseline = baseline && storeRequests(baseline);
    const bare = bareRequests(engine, database.dataSource);
    for (let i = 0; i < SEEDED_KEYS; i++) {
      const id = { namespace: REQUEST.namespace, scope: REQUEST.scope, key: seedKey(i) };
      await store.acquire(id, { ...REQUEST, token: `seed${i}` });
      await store.complete(id, `seed${i}`, REQUEST.response, REQUEST.ttlMs);
    }
    const variants: Variant[] = [
      { name: 'store-fresh', run: viaStore.fresh, figures: [] },
      { name: 'bare-fresh', run: bare.fresh, figures: [] },
      { name: 'store-replay', run: viaStore.replay, figures: [] },
      { name: 'bare-replay', run: bare.replay, figures: [] },
      ...(viaBaseline
        ? [
            { name: 'base-fresh', run: viaBaseline.fresh, figures: [] },
            { name: 'base-replay', run: viaBaseline.replay, figures: [] },
          ]
        : []),
    ].filter((variant) => !ONLY || variant.name === ONLY);
    // Warm-up: JIT, prepared statements on every pooled connection.
    for (const variant of variants) await measure(variant.run, Math.min(REQUESTS, 500));
    for (let round = 0; round < ROUNDS; round++) {
      for (let i = 0; i < variants.length; i++) {
        const variant = variants[(round + i) % variants.length];
        variant.figures.push(await measure(variant.run, REQUESTS));
      }
    }
    report(engine, variants);
  } finally {
    await baseline?.close();
    await store?.close();
    await database?.drop();
  }
}

/**
 * Each variant's median µs per request over the rounds and their range; for a store variant, the median over the
 * rounds of its figure ÷ the bare variant's in the same round (paired, so a round the machine was busier in weighs on
 * both sides of its ratio).
 */
function report(engine: Engine, variants: Variant[]): void {
  const byName = new Map(variants.map((variant) => [variant.name, variant]));
  for (const variant of variants) {
    const [low, high] = [Math.min(...variant.figures), Math.max(...variant.figures)];
    const floor = byName.get(variant.name.replace(/^(store|base)-/, 'bare-'));
    const ratios =
      floor && floor !== variant ? variant.figures.map((figure, round) => figure / floor.figures[round]) : [];
    const ratio = ratios.length ? `  ÷ bare ${(median(ratios) ?? NaN).toFixed(3)}` : '';
    console.log(
      `${engine.padEnd(9)} ${variant.name.padEnd(13)} ${(median(variant.figures) ?? NaN).toFixed(1).padStart(7)} µs/request ` +
        `(rounds ${low.toFixed(1)}–${high.toFixed(1)})${ratio}`,
    );
  }
}

async function main(): Promise<void> {
  console.log(`${ROUNDS} rounds × ${REQUESTS} requests per variant, ${CONCURRENCY} concurrent, CPU of this process`);
  for (const engine of ENGINES_RUN) await benchEngine(engine);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
