import type { AppStats } from '../apps/app-process';
import type { LoadResult } from './load';
import { median, range } from './stats';
import { renderFeatureCosts } from './feature-costs';
import { renderFixedRateCpu, renderOpenLoopAcquire } from './fixed-rate-report';
import { instructionCpu, instructionsByWindow, InstructionRun, renderInstructions } from './instruction-report';
import type { FixedRateMeasurement } from './fixed-rate-phase';
import { judgeTargets, RoundFigures, Target, TargetRow, targetsTable } from './targets';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const AUTOCANNON_VERSION: string = require('autocannon/package.json').version;

/** What the report needs to know of a variant. */
export interface VariantInfo {
  id: string;
  label: string;
  /** nest11 and nest12: this library's trivial app on that Nest major; peer: the peer on Nest 10. */
  group: 'nest11' | 'nest12' | 'peer' | 'payments' | 'features';
  /** The unguarded variant it is compared with; null for a baseline. */
  baseline: string | null;
  /** The pass-through interceptor variant on the same Nest major, which floor-relative targets refer to. */
  floor?: string;
  /** The same app without the feature this variant adds: docs/benchmarks.md shows the difference per request. */
  reference?: string;
  /** The speed targets that apply to it. */
  targets?: Target[];
  note?: string;
}

/** One variant in one round. */
export interface Measurement {
  variant: string;
  round: number;
  load: LoadResult;
  stats: AppStats;
  redis?: { keys: number; bytesPerKey: number | null; cpuUsPerRequest: number };
}

/** MEMORY USAGE of records a variant wrote (medians over a sample). */
export interface RecordSize {
  variant: string;
  pattern: string;
  sampled: number;
  memoryUsage: number;
  valueBytes: number;
  keyBytes: number;
}

/** Everything one run measured. */
export interface BenchReport {
  /** The command line, with the settings that differed from the defaults. */
  command: string;
  date: string;
  elapsedS: number;
  settings: { rounds: number; durationS: number; warmupS: number; connections: number };
  machine: {
    cores: number;
    cpuModel: string;
    memoryGiB: number;
    node: string;
    redis: string;
    postgres: string;
    /** Absent when the run measured no MariaDB variant. */
    mariadb?: string;
    platform: string;
    nest?: Record<string, string>;
  };
  variants: VariantInfo[];
  measurements: Measurement[];
  /** Acquire latency of the Redis store under light load (one connection), one entry per repetition. */
  unsaturatedAcquire: AppStats[];
  /** `RedisIdempotencyStore.acquire` alone, called one at a time from the harness. */
  directAcquire?: { p50Ms: number; p99Ms: number; calls: number };
  recordSizes: RecordSize[];
  /** App CPU per request of the variants the CPU targets compare, all at one fixed rate. */
  fixedRate?: { rate: number; measurements: FixedRateMeasurement[] };
  /** The variants with a latency target, each at half the rate that saturates it (open loop). */
  openLoop?: FixedRateMeasurement[];
  /** The CPU targets' variants in instructions per request, under callgrind (bench/lib/instruction-phase.ts). */
  instructions?: InstructionRun;
  /** Which cores the apps and the load ran on (bench/lib/cpu-pinning.ts). */
  pinning?: { load: string; app: string } | { unpinned: string };
  /** Bytes of JSON the large-response variants answer with. */
  largeResponseBytes?: number;
  profiled?: { dir: string; apps: string[] };
}

/** One variant's medians over the rounds. */
export interface VariantSummary {
  info: VariantInfo;
  rps: number;
  /** Median req/s divided by the baseline's median req/s; null for baselines. */
  ratio: number | null;
  /** Smallest and largest per-round ratio (variant / baseline of the same round). */
  ratioRange: [number, number] | null;
  latencyP50Ms: number;
  latencyP99Ms: number;
  acquireP50Ms: number | null;
  acquireP99Ms: number | null;
  appCpuUsPerRequest: number;
  redisBytesPerKey: number | null;
  redisCpuUsPerRequest: number | null;
}

export interface Summary {
  variants: VariantSummary[];
  byId: Map<string, VariantSummary>;
  /** Markdown table of every variant. */
  table: string;
  targets: TargetRow[];
  /** The targets as a Markdown table. */
  targetsTable: string;
  unsaturatedAcquire: { p50Ms: number | null; p99Ms: number | null };
}

const fixed = (value: number | null | undefined, digits: number) =>
  value === null || value === undefined ? '–' : value.toFixed(digits);

/** Medians per variant, ratios to baselines, and the targets. */
export function summarise(report: BenchReport): Summary {
  const of = (id: string) => report.measurements.filter((m) => m.variant === id);
  const variants: VariantSummary[] = report.variants.map((info) => {
    const ms = of(info.id);
    const rps = median(ms.map((m) => m.load.rps)) ?? 0;
    let ratio: number | null = null;
    let ratioRange: [number, number] | null = null;
    if (info.baseline) {
      const base = of(info.baseline);
      const baseRps = median(base.map((m) => m.load.rps)) ?? NaN;
      ratio = rps / baseRps;
      ratioRange = range(
        ms.map((m) => {
          const sameRound = base.find((b) => b.round === m.round);
          return sameRound ? m.load.rps / sameRound.load.rps : NaN;
        }),
      );
    }
    const withAcquire = ms.filter((m) => m.stats.acquireCount > 0);
    return {
      info,
      rps,
      ratio,
      ratioRange,
      latencyP50Ms: median(ms.map((m) => m.load.latencyP50Ms)) ?? NaN,
      latencyP99Ms: median(ms.map((m) => m.load.latencyP99Ms)) ?? NaN,
      acquireP50Ms: withAcquire.length ? median(withAcquire.map((m) => m.stats.acquireP50Ms!)) : null,
      acquireP99Ms: withAcquire.length ? median(withAcquire.map((m) => m.stats.acquireP99Ms!)) : null,
      appCpuUsPerRequest: median(ms.map((m) => m.stats.cpuUs / Math.max(1, m.load.requests))) ?? NaN,
      redisBytesPerKey: median(ms.flatMap((m) => (m.redis?.bytesPerKey ? [m.redis.bytesPerKey] : []))),
      redisCpuUsPerRequest: median(ms.flatMap((m) => (m.redis ? [m.redis.cpuUsPerRequest] : []))),
    };
  });
  const byId = new Map(variants.map((v) => [v.info.id, v]));

  const header =
    '| variant | req/s (median) | ratio to its baseline | ratio range over rounds | latency p50 / p99 (ms) | acquire p50 / p99 (ms) | app CPU (µs/req) |\n' +
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: |';
  const rows = variants.map((v) => {
    const base = v.info.baseline ? `${fixed(v.ratio, 2)}` : 'baseline';
    const spread = v.ratioRange ? `${fixed(v.ratioRange[0], 2)}–${fixed(v.ratioRange[1], 2)}` : '';
    const acquire = v.acquireP50Ms === null ? '–' : `${fixed(v.acquireP50Ms, 3)} / ${fixed(v.acquireP99Ms, 3)}`;
    return `| ${v.info.label} | ${v.rps.toFixed(0)} | ${base} | ${spread} | ${fixed(v.latencyP50Ms, 0)} / ${fixed(v.latencyP99Ms, 0)} | ${acquire} | ${v.appCpuUsPerRequest.toFixed(0)} |`;
  });

  const unsaturatedAcquire = {
    p50Ms: median(report.unsaturatedAcquire.map((s) => s.acquireP50Ms ?? NaN)),
    p99Ms: median(report.unsaturatedAcquire.map((s) => s.acquireP99Ms ?? NaN)),
  };

  const nestOf = (group: VariantInfo['group']) =>
    ({ nest11: '11', nest12: '12', peer: '10', payments: '11', features: '11' })[group] ?? '?';
  const targets = judgeTargets(
    variants.map((v) => ({
      id: v.info.id,
      label: v.info.label,
      nest: nestOf(v.info.group),
      floor: v.info.floor,
      targets: v.info.targets,
    })),
    roundFigures(report),
  );
  return {
    variants,
    byId,
    table: [header, ...rows].join('\n'),
    targets,
    targetsTable: targetsTable(targets),
    unsaturatedAcquire,
  };
}

/** The run's per-round figures, as the targets read them. */
function roundFigures(report: BenchReport): RoundFigures {
  const byRound = <M extends { variant: string; round: number }>(
    list: readonly M[],
    id: string,
    value: (m: M) => number | null,
  ) =>
    new Map(
      list
        .filter((m) => m.variant === id)
        .flatMap((m) => {
          const figure = value(m);
          return figure === null ? [] : [[m.round, figure] as [number, number]];
        }),
    );
  const info = (id: string) => report.variants.find((v) => v.id === id);
  return {
    rounds: report.settings.rounds,
    rps: (id) => byRound(report.measurements, id, (m) => m.load.rps),
    // Counted instructions when the run has them (they repeat; CPU time here does not), else CPU time.
    cpu: (id) =>
      report.instructions
        ? instructionCpu(report, id)
        : byRound(report.fixedRate?.measurements ?? [], id, (m) => m.cpuUsPerRequest),
    instructions: (id) => instructionsByWindow(report, id),
    cpuRounds: report.instructions?.windows ?? report.settings.rounds,
    cpuFigure: report.instructions
      ? 'app CPU above the floor (instructions/request, counted, as µs at this run’s rate)'
      : 'app CPU above the floor (µs/request, fixed rate)',
    acquireP99: (id) => byRound(report.openLoop ?? [], id, (m) => m.acquireP99Ms),
    label: (id) => info(id)?.label ?? id,
    floor: (id) => info(id)?.floor,
  };
}

const GROUP_COLOURS: Record<VariantInfo['group'], string> = {
  nest11: '#3b6fb6',
  nest12: '#7a5cb8',
  peer: '#c0793a',
  payments: '#4a9a5b',
  features: '#8c8c8c',
};

/** A horizontal bar chart of each variant's ratio to its baseline, with 1.0 marked. */
export function renderChart(report: BenchReport, summary: Summary): string {
  const bars = summary.variants.filter((v) => v.ratio !== null);
  const labelWidth = 400;
  const plotWidth = 440;
  const rowHeight = 26;
  const top = 48;
  const plotBottom = top + bars.length * rowHeight;
  const height = plotBottom + 78;
  const width = labelWidth + plotWidth + 110;
  // Ratios far above 1 (a replay that skips a database transaction) would squash the rest: the axis stops at 1.6
  // and longer bars are drawn broken, with their value.
  const axisMax = 1.6;
  const x = (ratio: number) => labelWidth + (Math.min(ratio, axisMax) / axisMax) * plotWidth;
  const escape = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif" font-size="12">`,
  );
  parts.push(`<rect width="${width}" height="${height}" fill="#ffffff"/>`);
  parts.push(
    `<text x="${width / 2}" y="20" text-anchor="middle" font-size="14" font-weight="bold">Throughput relative to the unguarded baseline (median of ${report.settings.rounds} rounds, ${report.settings.connections} connections)</text>`,
  );
  for (let step = 0; step <= axisMax * 5 + 1e-9; step++) {
    const tick = step / 5;
    const tx = x(tick);
    parts.push(
      `<line x1="${tx.toFixed(1)}" y1="${top - 6}" x2="${tx.toFixed(1)}" y2="${plotBottom}" stroke="#e3e3e3"/>`,
    );
    parts.push(
      `<text x="${tx.toFixed(1)}" y="${plotBottom + 16}" text-anchor="middle" fill="#555">${tick.toFixed(1)}</text>`,
    );
  }
  bars.forEach((v, i) => {
    const y = top + i * rowHeight;
    const ratio = v.ratio!;
    const end = x(ratio);
    parts.push(`<text x="${labelWidth - 8}" y="${y + 17}" text-anchor="end">${escape(v.info.label)}</text>`);
    parts.push(
      `<rect x="${labelWidth}" y="${y + 4}" width="${(end - labelWidth).toFixed(1)}" height="${rowHeight - 8}" fill="${GROUP_COLOURS[v.info.group]}"/>`,
    );
    let labelX = end + 6;
    if (ratio > axisMax) {
      // A white gap across the bar's end marks it as broken.
      parts.push(
        `<line x1="${(end - 14).toFixed(1)}" y1="${y + 2}" x2="${(end - 20).toFixed(1)}" y2="${y + rowHeight - 2}" stroke="#ffffff" stroke-width="4"/>`,
      );
    } else if (v.ratioRange) {
      const [low, high] = v.ratioRange;
      parts.push(
        `<line x1="${x(low).toFixed(1)}" y1="${y + rowHeight / 2}" x2="${x(high).toFixed(1)}" y2="${y + rowHeight / 2}" stroke="#222" stroke-width="1"/>`,
      );
      labelX = Math.max(labelX, x(high) + 6);
    }
    parts.push(
      `<text x="${labelX.toFixed(1)}" y="${y + 17}" fill="#222">${ratio.toFixed(2)}${ratio > axisMax ? ' (axis cut)' : ''}</text>`,
    );
  });
  const one = x(1);
  parts.push(
    `<line x1="${one.toFixed(1)}" y1="${top - 6}" x2="${one.toFixed(1)}" y2="${plotBottom}" stroke="#222" stroke-dasharray="4 3"/>`,
  );
  // From the left edge: five groups do not fit under the plot alone.
  let legendX = 40;
  const firstRow = plotBottom + 40;
  for (const [group, label] of [
    ['nest11', 'this library, Nest 11'],
    ['nest12', 'this library, Nest 12'],
    ['peer', '@node-idempotency/nestjs'],
    ['payments', 'payments app'],
    ['features', 'optional features'],
  ] as const) {
    parts.push(`<rect x="${legendX}" y="${firstRow - 10}" width="12" height="12" fill="${GROUP_COLOURS[group]}"/>`);
    parts.push(`<text x="${legendX + 16}" y="${firstRow}">${label}</text>`);
    legendX += 16 + label.length * 6.3 + 20;
  }
  const secondRow = firstRow + 20;
  parts.push(
    `<line x1="${labelWidth + 130}" y1="${secondRow - 4}" x2="${labelWidth + 160}" y2="${secondRow - 4}" stroke="#222"/>`,
  );
  parts.push(`<text x="${labelWidth + 166}" y="${secondRow}">range of per-round ratios</text>`);
  parts.push(
    `<line x1="${labelWidth + 330}" y1="${secondRow - 11}" x2="${labelWidth + 330}" y2="${secondRow + 2}" stroke="#222" stroke-dasharray="4 3"/>`,
  );
  parts.push(`<text x="${labelWidth + 338}" y="${secondRow}">unguarded = 1.0</text>`);
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}

/** docs/benchmarks.md */
export function renderBenchmarks(report: BenchReport, summary: Summary): string {
  const { machine, settings } = report;
  const v = (id: string) => summary.byId.get(id);
  const ratio = (id: string) => fixed(v(id)?.ratio, 2);
  const sizes = report.recordSizes;
  const sizeRows = sizes.map((size) => {
    const allIn = v(size.variant)?.redisBytesPerKey;
    const cpu = v(size.variant)?.redisCpuUsPerRequest;
    return `| ${v(size.variant)?.info.label ?? size.variant} | ${size.memoryUsage} | ${fixed(allIn, 0)} | ${size.keyBytes} | ${size.valueBytes} | ${fixed(cpu, 1)} |`;
  });
  const cpu = (id: string) => v(id)?.appCpuUsPerRequest ?? null;

  return `# Benchmarks

What \`@Idempotent()\` costs per request, measured against an unguarded baseline in the same run, and against
the peer library [\`@node-idempotency/nestjs\`](https://www.npmjs.com/package/@node-idempotency/nestjs) on the same
handler, on NestJS 11 and NestJS 12. Generated by \`${report.command}\` (bench/run.ts) on ${report.date.slice(0, 10)};
do not edit by hand.

- **Machine**: ${machine.cpuModel}, ${machine.cores} cores, ${machine.memoryGiB.toFixed(0)} GiB, ${machine.platform}, Node ${machine.node},
  Redis ${machine.redis}, PostgreSQL ${machine.postgres}${
    machine.nest
      ? `, NestJS ${Object.entries(machine.nest)
          .map(([major, version]) => `${version} (${major})`)
          .join(' and ')}`
      : ''
  }; shared with other work.
- **Command**: \`${report.command}\`, ${report.elapsedS.toFixed(0)} s in all.
- **Settings**: ${settings.rounds} rounds of ${settings.durationS} s per variant after ${settings.warmupS} s of warm-up,
  ${settings.connections} connections; figures are medians over the rounds, ratios are to the unguarded app of the same
  group measured in the same run. ${pinningLine(report)}

![Throughput relative to the unguarded baseline](benchmarks.svg)

## Targets

${summary.targetsTable}

Each target's figure is computed round by round, each variant against what it is compared with in the same round:
throughput against a floor that does the same statements on the bare driver (no library), app CPU above the framework's
pass-through interceptor at one fixed rate (below), acquire latency at half the saturating rate (below). The median is
the figure, the range over the ${settings.rounds} rounds is its interval (a ${(100 * (1 - 2 * 0.5 ** settings.rounds)).toFixed(1)}% interval for the median:
all ${settings.rounds} rounds fall on one side of it with probability 2 × 2⁻${settings.rounds}), and a target whose interval straddles its limit is undecided
rather than met or missed. "Halves of the run" are the medians of the first and of the second half of the rounds: the
same commit measured twice, in one run; ratios must agree within ±0.05, CPU figures within ±5 µs, latencies within
±0.05 ms. \`BENCH_STRICT=1 npm run bench\` exits with status 2 unless every target is met with a figure that repeats.

## Results

${summary.table}

Bars in the chart are the ratio of median throughputs; the whisker is the range of per-round ratios (each variant
against its baseline measured in the same round). Latencies are what autocannon saw (whole request, ms); acquire
p50/p99 is the library's own \`acquireMs\` from its \`events\` hook, collected in the app process; app CPU is the app
process's CPU time (user + system, all threads) divided by the requests it served.

${renderInstructions(report)}
${renderFixedRateCpu(report)}
${renderOpenLoopAcquire(report)}
${renderFeatureCosts(report, summary)}
Acquire latency of the Redis store, as the \`events\` hook reports it:

| load | acquire p50 (ms) | acquire p99 (ms) |
| --- | ---: | ---: |
| ${settings.connections} connections (the table above) | ${fixed(v('redis')?.acquireP50Ms, 3)} | ${fixed(v('redis')?.acquireP99Ms, 3)} |
| one connection, same app (${report.unsaturatedAcquire.length} runs of ${settings.durationS} s, medians) | ${fixed(summary.unsaturatedAcquire.p50Ms, 3)} | ${fixed(summary.unsaturatedAcquire.p99Ms, 3)} |
| the store's \`acquire\` alone, one call at a time from the harness (${report.directAcquire?.calls ?? 0} calls) | ${fixed(report.directAcquire?.p50Ms, 3)} | ${fixed(report.directAcquire?.p99Ms, 3)} |

The last line is the round trip itself: a Lua script on a local Redis, ${fixed(report.directAcquire?.p50Ms, 3)} ms at the
median. What the app adds on top is time in its own event loop, and when other processes compete for the cores, the
slowest calls wait for the scheduler rather than for Redis.

### Redis bytes per record

| records written by | MEMORY USAGE (bytes, median) | all-in (Δ used_memory / Δ keys) | key bytes | value bytes | Redis CPU (µs/request) |
| --- | ---: | ---: | ---: | ---: | ---: |
${sizeRows.join('\n')}

MEMORY USAGE is Redis's own figure for a sample of ${sizes[0]?.sampled ?? 0} real records the run wrote; "all-in" divides
the growth of \`used_memory\` by the keys added during each measurement (median over rounds), so it also counts the
expiry entry and the hash table's share. Our value is \`'c' <len> ':' <32-byte fingerprint> <stored response>\`, the
stored response being \`{"status":…,"headers":{"content-type":…},"body":…}\`. Redis CPU is the server's
\`used_cpu_user + used_cpu_sys\` over the measurement, per request. docs/capacity.md turns these into memory and shards.

## What the figures say

- **The trivial handler is the worst case on purpose.** Unguarded it costs ${fixed(cpu('unguarded'), 0)} µs of app CPU
  per request, so whatever a guard adds is measured against almost nothing. On the payments route (API-key guard,
  validation, a PostgreSQL transaction) the same guard runs at ${ratio('payments-redis')}× unguarded, and a replay, which
  skips validation and the transaction, at ${ratio('payments-replay')}×.
${floorParagraph(v, cpu)}
${nest12Paragraph(v, cpu)}
${aboveFloorParagraph(v, cpu)}
${replayParagraph(v)}
- **What was fixed.** Profiles (\`--cpu-prof\` on the Redis-guarded app) showed the single largest cost of the guard
  to be the socket writes to Redis: one \`write\` system call per command, each also waking redis-server, about 40 µs per
  request on this VM. \`RedisIdempotencyStore\` now sends the commands of one event-loop turn in one write (corked
  stream, flushed by \`setImmediate\`; a call whose timeout fired before the flush is dropped, never sent). In an A/B of
  six alternating rounds this cut the guarded app's CPU per request by about 15% (277 → 235 µs, median) and raised
  throughput by about 30%. ioredis's own \`enableAutoPipelining\` gained about half as much (its pipeline bookkeeping
  costs more than the write it saves) and could send a command after its caller had been answered.
- **Acquire latency under saturation is queueing.** With ${settings.connections} connections the app's event loop is
  never idle: a reply waits in the socket until the loop gets to it, and the batching adds up to one turn. The same
  store with one connection, and the store alone, show the round trip itself (above).
- **SQL stores** run their own statements on the driver, inside the DataSource TypeORM opened: named prepared
  statements on the pool's PostgreSQL clients (parsed and planned once per connection), mysql2 \`execute\` (server-side
  prepared), better-sqlite3 statements prepared once. A fresh key is one plain \`INSERT … ON CONFLICT DO NOTHING\`; only
  an existing row goes through the locking decision. What is left on PostgreSQL is the database's own work: two
  committed statements per request (acquire, complete), each flushed to disk, with the server sharing the two cores
  (the PostgreSQL apps are mostly idle, waiting); in the transactional mode TypeORM's \`START TRANSACTION\` and
  \`COMMIT\` add two round trips. On SQLite a store call runs at once and synchronously when no unit of work holds the
  one connection, and waits its turn only when one does.
- **Memory store**: every operation is O(1) (the record is itself the node of its recency lists, expiry buckets
  threaded through the records, times kept as small integers so V8 does not box them); records live on the JavaScript
  heap until their TTL, so the heap grows through the run, and at \`maxEntries\` every new key evicts the least
  recently used one. In process the guard costs about 11 µs per request on it (\`bench/guard-path-cost.ts\`); the fixed-rate
  section shows what it costs the app over HTTP.

## Method

- Each app runs in its own Node process (\`bench/apps/trivial-app.ts\` for this library's variants: through ts-node
  on Nest 11, compiled and run with plain \`node\` from bench/nest12 on Nest 12,
  \`bench/peer-node-idempotency/app.ts\` for the peer, \`bench/apps/payments-app.ts\` for the payments app), forked by the
  harness with an IPC channel through which the app reports acquire latencies and outcomes.
- Load: autocannon ${AUTOCANNON_VERSION} programmatic API, ${settings.connections} connections, pipelining 1, ${settings.durationS} s per
  measurement, ${settings.warmupS} s of warm-up per variant, ${settings.rounds} rounds; in each round every variant runs once,
  the order is rotated from round to round and reversed every other round, so each variant runs both before and after its
  baseline. Every request is built by \`setupRequest\` with its own
  \`Idempotency-Key\` (unguarded variants get one too, and ignore it), so the client does the same work for every variant.
  A measurement with any non-2xx answer, error or timeout fails the run, and so does an app that reports an outcome other
  than the expected one (\`executed\` for fresh keys, \`replayed\` for replays) or a fresh-key variant that wrote fewer
  Redis keys than it served requests.
- Baselines. The trivial handler: the same controller method on the same route without \`@Idempotent()\` and without the
  module. The peer: the same Nest 10 app without its module and decorator. The payments app: the app exactly as shipped
  (\`AppModule\`, \`setupApp\`, API-key guard, global \`ValidationPipe\`, PostgreSQL), with \`PaymentsModule\` swapped for a
  bench-only copy whose \`POST /payments\` is word for word the shipped route minus \`@Idempotent()\`
  (\`bench/apps/unguarded-payments.module.ts\`). \`required: false\` with no key sent would still run the interceptor
  (header scan, scope, route settings) and flatter the guarded variant; the copy removes exactly the guard.
- Stores: memory (\`maxEntries\` 2,000,000, sized for the run); Redis: a dedicated \`redis-server\` ${machine.redis} the
  bench starts on a free port, no persistence; PostgreSQL ${machine.postgres}: a database created for the run, pool of 20;${
    machine.mariadb ? ` MariaDB ${machine.mariadb}: a database created for the run, pool of 20;` : ''
  }
  SQLite: a WAL file in a temporary directory. The SQL floors (\`bench/apps/sql-floor.ts\`) send the store's own statements
  for a fresh key on the bare driver, with the same pool sizes, into a table of the migration's schema. Payments: PostgreSQL for the business data, the Redis store for records,
  ${'200'} customers used round-robin so that concurrent payments do not queue on one row.
- The load generator, the app, Redis and PostgreSQL share the machine's ${machine.cores} cores, and other work on the
  machine may run at the same time: absolute req/s move from run to run, and so, less, do the ratios (the whiskers);
  the PostgreSQL-bound payments pair moves most. Compare ratios within one run, and runs with one another only loosely.
- Profiling: \`BENCH_PROFILE=lib-redis,lib-interceptor npm run bench\` profiles those apps over the measured rounds only;
  \`npx ts-node --transpile-only bench/profile-summary.ts <file>.cpuprofile\` summarises a profile.
  \`npx ts-node -r tsconfig-paths/register --transpile-only bench/micro.ts\` repeats the micro-measurements quoted above.

## Machine

| | |
| --- | --- |
| CPU | ${machine.cpuModel}, ${machine.cores} cores |
| memory | ${machine.memoryGiB.toFixed(0)} GiB |
| platform | ${machine.platform} |
| Node | ${machine.node} |
| Redis | ${machine.redis} |
| PostgreSQL | ${machine.postgres} |${machine.mariadb ? `\n| MariaDB | ${machine.mariadb} |` : ''}
| run | ${report.date}, ${report.elapsedS.toFixed(0)} s in all |
| NestJS | ${
    machine.nest
      ? Object.entries(machine.nest)
          .map(([major, version]) => `${version} (${major})`)
          .join(', ')
      : '–'
  } |
| settings | ${settings.rounds} rounds × ${settings.durationS} s, ${settings.warmupS} s warm-up, ${settings.connections} connections |

Command: \`${report.command}\` (settings through \`BENCH_ROUNDS\`, \`BENCH_DURATION\`, \`BENCH_WARMUP\`,
\`BENCH_CONNECTIONS\`, \`BENCH_ONLY\`, \`BENCH_PROFILE\`, \`BENCH_STRICT\`; see bench/README.md).
`;
}

type Lookup = (id: string) => VariantSummary | undefined;

function pinningLine(report: BenchReport): string {
  const pinning = report.pinning;
  if (!pinning) return '';
  if ('unpinned' in pinning) return `Not pinned to cores (${pinning.unpinned}).`;
  return `Pinned with \`taskset\`: each app's main thread on core ${pinning.app} (its other threads free); the harness (and autocannon in it) and Redis on core ${pinning.load}; PostgreSQL and MariaDB, the machine's services, wherever the system runs them.`;
}

/** The paragraph on Nest's interceptor floor, worded from what the run measured. */
function floorParagraph(v: Lookup, cpu: (id: string) => number | null): string {
  const floor = v('interceptor')?.ratio;
  const ours = v('redis')?.ratio;
  const peerFloor = v('peer-interceptor')?.ratio;
  if (floor == null || ours == null) return '';
  const share = (1 - floor) / Math.max(1e-9, 1 - ours);
  const lead = share >= 0.5 ? "Most of the gap is Nest's, not the library's." : "Part of the gap is Nest's.";
  const extra = (a: string, b: string) =>
    cpu(a) !== null && cpu(b) !== null ? `${(cpu(a)! - cpu(b)!).toFixed(0)} µs` : '–';
  const capped =
    floor < 0.85
      ? ' Every interceptor-based guard pays this, the peer included, and it caps every ratio of the trivial-handler groups, ' +
        'which is why the targets of the in-memory and Redis guards are stated against this floor.'
      : ' Every interceptor-based guard pays this, the peer included.';
  return `- **${lead}** An interceptor that only returns \`next.handle()\` already runs at ${fixed(floor, 2)}× unguarded on
  Nest 11 (${extra('interceptor', 'unguarded')} more app CPU per request)${peerFloor != null ? ` and at ${fixed(peerFloor, 2)}× on Nest 10 (${extra('peer-interceptor', 'peer-unguarded')})` : ''}.
  Nest's \`InterceptorsConsumer\` wraps every intercepted call in \`AsyncResource.bind\` twice; on Node 20 each bind costs
  about 8 µs by itself (\`bench/micro.ts\`; it defines the deprecated \`asyncResource\` accessors through
  \`util.deprecate\` and \`Object.defineProperties\`), and the rxjs \`defer\`/\`mergeAll\`/\`from\` chain and the garbage
  it leaves do the rest.${capped}`;
}

/** The paragraph on Nest 12, whose floor is much higher than Nest 11's, so the guard's own cost shows. */
function nest12Paragraph(v: Lookup, cpu: (id: string) => number | null): string {
  const floor = v('nest12-interceptor')?.ratio;
  if (floor == null) return '';
  const guarded = (['nest12-memory', 'nest12-redis'] as const).flatMap((id) => {
    const ratio = v(id)?.ratio;
    const above = cpu(id) !== null && cpu('nest12-interceptor') !== null ? cpu(id)! - cpu('nest12-interceptor')! : null;
    return ratio == null
      ? []
      : [
          `${id === 'nest12-memory' ? 'the memory store' : 'the Redis store'} at ${fixed(ratio, 2)}×${above === null ? '' : ` (${above.toFixed(0)} µs of app CPU above the floor)`}`,
        ];
  });
  const nest11Floor = v('interceptor')?.ratio;
  const lead =
    nest11Floor != null && floor > nest11Floor
      ? "On Nest 12 the floor is higher, so the guard's own cost weighs more."
      : 'On Nest 12.';
  return `- **${lead}** Nest 12's pass-through interceptor runs at ${fixed(floor, 2)}× unguarded (Nest 11's:
  ${fixed(nest11Floor, 2)}×): since 12.5 Nest no longer wraps each intercepted call in \`AsyncResource.bind\`. ${guarded.length ? `Guarded, the same trivial app runs with ${guarded.join(' and ')}.` : ''} The Nest 12 apps are
  the same source as the Nest 11 ones, compiled and run with plain \`node\` from bench/nest12 (exact NestJS 12 pins, the
  library built from source), since NestJS 12 is ESM-only.`;
}

/** The paragraph on replays, with and without the in-process cache of completed records. */
function replayParagraph(v: Lookup): string {
  const plain = v('redis-replay')?.ratio;
  const cached = v('redis-replay-cached')?.ratio;
  if (plain == null) return '';
  return `- **Replays.** A replay from the Redis store runs at ${fixed(plain, 2)}× unguarded${
    cached == null
      ? ''
      : `; with \`localCache\` on,
  which serves a completed record from the app's memory without a round trip to Redis, at ${fixed(cached, 2)}× (the bench
  checks that those replays send Redis no command)`
  }. A replay skips the handler, so on a handler that does real work
  (the payments route) it runs faster than the unguarded route.`;
}

/** The paragraph on what the guards add above their framework's floor. */
function aboveFloorParagraph(v: Lookup, cpu: (id: string) => number | null): string {
  const pair = (guarded: string, floor: string) => {
    const a = cpu(guarded);
    const b = cpu(floor);
    if (a === null || b === null) return null;
    return { guarded: a, floor: b, within: Math.abs(a - b) < 0.1 * b };
  };
  const ours = pair('redis', 'interceptor');
  const peer = pair('peer-redis', 'peer-interceptor');
  if (!ours) return '';
  const describe = (p: { guarded: number; floor: number; within: boolean }) =>
    `${p.guarded.toFixed(0)} µs of app CPU per request against ${p.floor.toFixed(0)} µs for the pass-through interceptor` +
    (p.within
      ? " (a difference within this machine's run-to-run noise)"
      : ` (${Math.abs(p.guarded - p.floor).toFixed(0)} µs ${p.guarded > p.floor ? 'more' : 'less, which says how noisy CPU per request is here'})`);
  const redisCpu = (id: string) => v(id)?.redisCpuUsPerRequest;
  return `- **Above that floor.** The Redis-guarded route used ${describe(ours)}${peer ? `; the peer ${describe(peer)}` : ''}.
  Ours makes two Lua round trips (acquire, complete) with a server-clock lease and a fencing token, hashes method,
  path and canonical JSON with SHA-256, and stores a compact binary record; the peer sends \`SET NX\` then \`SET\`
  (\`SET NX\` then \`GET\` on a replay), hashes the body only, keeps no lease or fencing token, and node-redis pipelines
  the commands of one tick by itself. The Lua scripts cost Redis more: ${fixed(redisCpu('redis'), 1)} µs of Redis CPU per
  new key here against ${fixed(redisCpu('peer-redis'), 1)} µs for the peer's plain commands (docs/capacity.md sizes shards
  with ours); on this machine that CPU comes out of the same two cores as the app's and the load generator's, which is
  why a guarded variant's ratio can sit below its floor's with the same app CPU.`;
}

export { renderCapacity } from './capacity-report';
