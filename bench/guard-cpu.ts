/*
 * The guard's CPU per request above Nest's pass-through floor, quickly and repeatably (issue 21): the trivial app
 * (bench/apps/trivial-app.ts) behind a pass-through interceptor, guarded on the memory store (nearly empty), on the
 * memory store filled to its maxEntries before the measurement (every fresh key evicts), and on Redis, each in its
 * own process, driven at one fixed open-loop rate (so every app does the same work per second however cheap it is).
 * Each guarded app is measured at the same time as the interceptor on its Nest major (the peer against its own),
 * so that the rest of a shared machine's load weighs on both alike; the pairs take turns, round by round. Per
 * measurement: the app's CPU time (user + system, process.cpuUsage in the app) over its completed requests; per
 * pair the difference. Reported as the median over rounds with the range.
 *
 *   npx ts-node -r tsconfig-paths/register --transpile-only bench/guard-cpu.ts
 *
 * Settings (environment): GUARD_CPU_NEST (11, 12 or 11,12; default 11), GUARD_CPU_APPS (interceptor is always
 * added; default memory,memory-full,redis; peer-redis and peer-interceptor run @node-idempotency/nestjs on Nest 10),
 * GUARD_CPU_ROUNDS (9), GUARD_CPU_SECONDS per measurement (2), GUARD_CPU_WARMUP seconds (3), GUARD_CPU_RATE requests
 * per second (600), GUARD_CPU_CONNECTIONS (20), GUARD_CPU_PREFILL records of memory-full (1,000,000),
 * GUARD_CPU_PROFILE=app,... (V8's CPU profile of those apps over the rounds, written to the printed directory;
 * bench/profile-summary.ts reads it), BENCH_REDIS_URL (default: a redis-server of its own).
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runLoad } from './lib/load';
import { NEST12_DIR, prepareNest12 } from './lib/nest12';
import { AppProcess, REPO_ROOT, startRedisServer, stopAll } from './lib/processes';
import { median, range } from './lib/stats';

const PEER_DIR = join(REPO_ROOT, 'bench/peer-node-idempotency');
const STORE_APPS = ['interceptor', 'memory', 'memory-full', 'redis'] as const;
const PEER_APPS = ['peer-interceptor', 'peer-redis'] as const;
type AppKind = (typeof STORE_APPS)[number] | (typeof PEER_APPS)[number];

interface Settings {
  majors: Array<11 | 12>;
  apps: AppKind[];
  rounds: number;
  seconds: number;
  warmup: number;
  rate: number;
  connections: number;
  prefill: number;
  profile: string[];
}

function readSettings(env = process.env): Settings {
  const int = (name: string, fallback: number, min: number) => {
    const value = env[name] ? Number(env[name]) : fallback;
    if (!Number.isInteger(value) || value < min) throw new Error(`${name} must be an integer >= ${min}`);
    return value;
  };
  const list = (name: string, fallback: string) =>
    (env[name] || fallback)
      .split(',')
      .map((part) => part.trim())
      .filter(Boolean);
  const majors = list('GUARD_CPU_NEST', '11').map(Number);
  if (majors.some((major) => major !== 11 && major !== 12)) throw new Error('GUARD_CPU_NEST takes 11 and 12');
  const apps = list('GUARD_CPU_APPS', 'memory,memory-full,redis');
  const known: readonly string[] = [...STORE_APPS, ...PEER_APPS];
  const unknown = apps.filter((app) => !known.includes(app));
  if (unknown.length) throw new Error(`GUARD_CPU_APPS: unknown ${unknown.join(', ')} (known: ${known.join(', ')})`);
  return {
    majors: majors as Array<11 | 12>,
    apps: [...new Set(['interceptor', ...apps])] as AppKind[],
    rounds: int('GUARD_CPU_ROUNDS', 9, 2),
    seconds: int('GUARD_CPU_SECONDS', 2, 1),
    warmup: int('GUARD_CPU_WARMUP', 3, 1),
    rate: int('GUARD_CPU_RATE', 600, 1),
    connections: int('GUARD_CPU_CONNECTIONS', 20, 1),
    prefill: int('GUARD_CPU_PREFILL', 1_000_000, 1),
    profile: list('GUARD_CPU_PROFILE', ''),
  };
}

/** One app under measurement: its name (`nest11-memory`, `peer-redis`), its process, and the interceptor it is compared with. */
interface Subject {
  name: string;
  app: AppProcess;
  floor: string;
}

function subjectsOf(settings: Settings, redisUrl: string, profileDir: string | undefined): Subject[] {
  const nest12Entry = settings.majors.includes(12) ? prepareNest12((line) => console.log(line)) : undefined;
  const storeEnv = (kind: (typeof STORE_APPS)[number]): Record<string, string> => {
    if (kind === 'memory-full') return { BENCH_STORE: 'memory', BENCH_MEMORY_PREFILL: String(settings.prefill) };
    return kind === 'redis' ? { BENCH_STORE: 'redis', BENCH_REDIS_URL: redisUrl } : { BENCH_STORE: kind };
  };
  const cpuProfileDir = (name: string) => (settings.profile.includes(name) ? profileDir : undefined);
  const subjects: Subject[] = [];
  for (const major of settings.majors) {
    for (const kind of settings.apps.filter((app): app is (typeof STORE_APPS)[number] => !app.startsWith('peer-'))) {
      const name = `nest${major}-${kind}`;
      const env = storeEnv(kind);
      const app =
        major === 11
          ? new AppProcess(name, 'bench/apps/trivial-app.ts', { env, cpuProfileDir: cpuProfileDir(name) })
          : new AppProcess(name, nest12Entry!, {
              env,
              plainNode: true,
              cwd: NEST12_DIR,
              cpuProfileDir: cpuProfileDir(name),
            });
      subjects.push({ name, app, floor: `nest${major}-interceptor` });
    }
  }
  const peers = settings.apps.filter((app) => app.startsWith('peer-'));
  if (peers.length) {
    for (const name of new Set(['peer-interceptor', ...peers])) {
      const env: Record<string, string> =
        name === 'peer-redis' ? { PEER_GUARDED: '1', BENCH_REDIS_URL: redisUrl } : { PEER_GUARDED: 'interceptor' };
      const app = new AppProcess(name, join(PEER_DIR, 'app.ts'), {
        env,
        tsProject: join(PEER_DIR, 'tsconfig.json'),
        cpuProfileDir: cpuProfileDir(name),
      });
      subjects.push({ name, app, floor: 'peer-interceptor' });
    }
  }
  return subjects;
}

/** µs of app CPU per completed request over one measurement at the fixed rate. */
async function measure(subject: Subject, settings: Settings, seconds: number, nextKey: () => string): Promise<number> {
  const { app } = subject;
  app.reset();
  const load = await runLoad(
    app.url,
    () => {
      const key = nextKey();
      return {
        path: '/orders',
        headers: { 'idempotency-key': key },
        body: `{"amount":2500,"currency":"EUR","reference":"${key}"}`,
      };
    },
    { connections: settings.connections, durationS: seconds, overallRate: settings.rate },
  );
  await app.settle();
  const stats = await app.stats();
  const answered = load.statusCodes['201'] ?? 0;
  if (load.non2xx || load.errors || load.timeouts || answered === 0) {
    throw new Error(
      `${subject.name}: ${load.non2xx} non-2xx, ${load.errors} errors, ${load.timeouts} timeouts (${JSON.stringify(load.statusCodes)})`,
    );
  }
  const outcomes = Object.entries(stats.outcomes).filter(([outcome]) => outcome !== 'executed');
  if (outcomes.length) throw new Error(`${subject.name}: outcomes other than executed: ${JSON.stringify(outcomes)}`);
  if (answered < settings.rate * seconds * 0.9) {
    console.warn(`  ${subject.name}: only ${answered} of ${settings.rate * seconds} requests answered (overloaded?)`);
  }
  return stats.cpuUs / answered;
}

async function main(): Promise<void> {
  const settings = readSettings();
  const runId = randomBytes(4).toString('hex');
  const redisUrl = process.env.BENCH_REDIS_URL || (await startRedisServer()).url;
  const profileDir = settings.profile.length ? join(tmpdir(), `guard-cpu-profiles-${runId}`) : undefined;
  if (profileDir) mkdirSync(profileDir, { recursive: true });
  const subjects = subjectsOf(settings, redisUrl, profileDir);
  // One at a time: the memory-full app's prefill takes the CPU for a while, and apps starting together slow each other.
  for (const subject of subjects) await subject.app.start();
  let counter = 0;
  const nextKey = () => `${runId}-${++counter}`;

  console.log(
    `${settings.rounds} rounds of ${settings.seconds} s at ${settings.rate} req/s (${settings.connections} connections), ` +
      `after ${settings.warmup} s of warm-up each`,
  );
  for (const subject of subjects) await measure(subject, settings, settings.warmup, nextKey);
  await Promise.all(subjects.map((subject) => subject.app.startProfile()));

  // Each guarded app runs at the same time as its interceptor, at the same rate: whatever else the machine does
  // then weighs on both alike, and the difference of the pair is the guard's.
  const guarded = subjects.filter((subject) => subject.name !== subject.floor);
  const floors = new Map(subjects.map((subject) => [subject.name, subject]));
  const own = new Map<string, number[]>(subjects.map((subject) => [subject.name, []]));
  const above = new Map<string, number[]>(guarded.map((subject) => [subject.name, []]));
  for (let round = 0; round < settings.rounds; round++) {
    // Rotated, and reversed every other round, so no app always follows the same one.
    const rotated = guarded.map((_, i) => guarded[(i + round) % guarded.length]);
    const figures: string[] = [];
    for (const subject of round % 2 ? rotated.reverse() : rotated) {
      const floor = floors.get(subject.floor)!;
      const [mine, its] = await Promise.all(
        [subject, floor].map((each) => measure(each, settings, settings.seconds, nextKey)),
      );
      own.get(subject.name)!.push(mine);
      own.get(floor.name)!.push(its);
      above.get(subject.name)!.push(mine - its);
      figures.push(`${subject.name} ${mine.toFixed(0)} − ${its.toFixed(0)}`);
    }
    console.log(`  round ${round + 1}: ${figures.join(', ')}`);
  }
  await Promise.all(subjects.map((subject) => subject.app.stopProfile()));

  console.log(
    '\nµs of app CPU per request, median over rounds; above: minus its interceptor run alongside (median, range)',
  );
  for (const subject of subjects) {
    const differences = above.get(subject.name);
    const [low, high] = differences ? range(differences)! : [0, 0];
    const aboveText = differences
      ? `   above: ${median(differences)!.toFixed(0).padStart(4)} (${low.toFixed(0)}–${high.toFixed(0)})`
      : '';
    console.log(`  ${subject.name.padEnd(20)} ${median(own.get(subject.name)!)!.toFixed(0).padStart(5)}${aboveText}`);
  }
  if (profileDir) console.log(`\nprofiles: ${profileDir}/<app>.cpuprofile`);
}

main()
  .catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = 1;
  })
  .finally(() => stopAll());
