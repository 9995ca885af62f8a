/*
 * The instruction counts (bench/lib/instruction-phase.ts) as the CPU targets read them, and as docs/benchmarks.md
 * shows them.
 */
import type { InstructionMeasurement } from './instruction-phase';
import type { BenchReport } from './report';
import { median, range } from './stats';

/** What the instruction phase measured, as the report keeps it. */
export interface InstructionRun {
  warmupRequests: number;
  windowRequests: number;
  windows: number;
  measurements: InstructionMeasurement[];
}

/** The floor whose native CPU time converts instructions into µs: Nest 11's pass-through interceptor. */
const CONVERSION_FLOOR = 'interceptor';

/**
 * µs of app CPU per instruction on this machine, in this run: the floor's median app CPU µs per request in the
 * closed-loop rounds (the unit the targets were set in: "Nest 11 floor 379 µs") over its median instructions per
 * request. It only turns the µs bounds of the targets into instructions; the figures themselves are counted.
 * Null when either was not measured.
 */
export function microsecondsPerInstruction(report: BenchReport): number | null {
  const cpu = median(
    report.measurements
      .filter((m) => m.variant === CONVERSION_FLOOR)
      .map((m) => m.stats.cpuUs / Math.max(1, m.load.requests)),
  );
  const instructions = median(
    (report.instructions?.measurements ?? []).filter((m) => m.variant === CONVERSION_FLOOR).map((m) => m.perRequest),
  );
  return cpu !== null && instructions ? cpu / instructions : null;
}

/** Per window, the variant's instructions per request (empty when not measured). */
export function instructionsByWindow(report: BenchReport, id: string): Map<number, number> {
  return new Map(
    (report.instructions?.measurements ?? []).filter((m) => m.variant === id).map((m) => [m.round, m.perRequest]),
  );
}

/** Per window, the variant's instructions per request as µs at this run's rate (empty when not measured). */
export function instructionCpu(report: BenchReport, id: string): Map<number, number> {
  const rate = microsecondsPerInstruction(report);
  if (rate === null) return new Map();
  return new Map([...instructionsByWindow(report, id)].map(([window, count]) => [window, count * rate]));
}

const thousands = (value: number | null) => (value === null ? '–' : Math.round(value).toLocaleString('en'));

/** The section of docs/benchmarks.md: instructions per request per variant, and above each variant's floor. */
export function renderInstructions(report: BenchReport): string {
  const run = report.instructions;
  if (!run?.measurements.length) return '';
  const label = (id: string) => report.variants.find((v) => v.id === id)?.label ?? id;
  const floorOf = (id: string) => report.variants.find((v) => v.id === id)?.floor;
  const byVariant = new Map<string, InstructionMeasurement[]>();
  for (const m of run.measurements) byVariant.set(m.variant, [...(byVariant.get(m.variant) ?? []), m]);
  const rate = microsecondsPerInstruction(report);
  const rows = [...byVariant].map(([id, ms]) => {
    const perRequest = ms.map((m) => m.perRequest);
    const spread = range(perRequest);
    const floor = floorOf(id);
    const above = ms.flatMap((m) => {
      const same = (byVariant.get(floor ?? '') ?? []).find((f) => f.round === m.round);
      return same ? [m.perRequest - same.perRequest] : [];
    });
    const aboveText = floor && above.length ? `${thousands(median(above))}` : '– (the floor)';
    const asUs = floor && above.length && rate !== null ? (median(above)! * rate).toFixed(1) : '–';
    return `| ${label(id)} | ${thousands(median(perRequest))} | ${spread ? `${thousands(spread[0])} to ${thousands(spread[1])}` : '–'} | ${aboveText} | ${asUs} | ${thousands(median(ms.map((m) => m.gcPerRequest)))} | ${thousands(median(ms.map((m) => m.compilePerRequest)))} |`;
  });
  return `### App CPU per request in instructions (the CPU targets' figure)

Each variant the CPU targets compare, once more in a process of its own under Valgrind's callgrind, counting nothing
until ${run.warmupRequests.toLocaleString('en')} requests have warmed it up, then ${run.windows} windows of ${run.windowRequests.toLocaleString('en')} requests, one at a time over
one connection. Every thread of the app is counted (the garbage collector's helpers too); V8's JIT compilation is
counted apart and left out, since how many compilations land in a window depends on where V8's tiering thresholds fall,
not on what a request costs. An instruction count does not move with the host's load, which made this machine's CPU
time per request differ by a quarter between rounds of the same app. The µs column converts at this run's rate, ${rate === null ? 'not measured' : `${(rate * 1000).toFixed(3)} µs per thousand instructions`}: the
pass-through floor's app CPU µs per request in the closed-loop rounds over its instructions per request. Windows stand
for rounds in the targets: the median over windows is the figure, their range its interval.

A window in which V8 ran a major collection (mark-compact of the whole heap) counts a few hundred thousand
instructions more per request; at the same request count every app has one (their heaps grow alike), so the
per-window differences largely cancel it, and the median over windows leaves it out. How often a store's retained
records make a major collection come, and what it then costs, is in the GC column of the window that had one.

| variant | instructions/request (median) | range over windows | above the floor (instructions) | above the floor (µs at this run's rate) | of which GC | JIT compilation (left out) |
| --- | ---: | ---: | ---: | ---: | ---: | ---: |
${rows.join('\n')}
`;
}
