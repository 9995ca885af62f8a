/*
 * The speed targets, judged on per-round figures rather than on one number: each target's figure is computed round
 * by round (a variant against what it is compared with, measured in the same round), and the run reports the median,
 * the range over the rounds, and the median of each half of the rounds. With n rounds the range is a 1 − 2 × 2⁻ⁿ
 * interval for the median (97% with six, 87.5% with four: the chance that all fall on one side of it), so a target whose range
 * straddles the limit is called undecided rather than met or missed. The two halves are the run measured twice:
 * how far apart they are is what a second run of the same commit could differ by.
 */
import { median, range } from './stats';

/** One target a variant must meet. */
export type Target =
  /** Throughput: per round, this variant's req/s ≥ factor × the req/s of `of` (a floor on the bare driver). */
  | { kind: 'of-variant'; of: string; factor: number }
  /**
   * The same bound on the app's side in counted instructions: per window, `of`'s instructions per request ÷ this
   * variant's ≥ factor. Where the engine does the same work for both (the floors send the store's statements),
   * this is the throughput ratio the app's CPU allows, free of the machine's noise.
   */
  | { kind: 'instructions-of-variant'; of: string; factor: number }
  /** App CPU: per round (or instruction window), µs per request above the variant's floor (Nest's pass-through) ≤ maxUs. */
  | { kind: 'cpu-above-floor'; maxUs: number }
  /**
   * App CPU at a fixed rate: per round, µs above this variant's floor ≤ µs of `other` above its own floor, plus
   * `slackUs` (0 unless given: "costs the same as" is stated with a slack, "costs at most" without).
   */
  | { kind: 'cpu-above-floor-vs'; other: string; slackUs?: number }
  /**
   * Open-loop load at half the saturating rate: per round, the library's acquire p99 < maxMs. `reference`, a variant
   * measured alongside without a verdict (the same claim on the bare driver), shows what the engine alone takes.
   */
  | { kind: 'acquire-p99'; maxMs: number; reference?: string };

/** What the targets need of a variant. */
export interface TargetSubject {
  id: string;
  label: string;
  nest: string;
  floor?: string;
  targets?: Target[];
}

/** The per-round figures of a run, by variant id and round. */
export interface RoundFigures {
  rounds: number;
  /** Closed-loop req/s. */
  rps(id: string): Map<number, number>;
  /** App CPU µs per request (counted instructions at the run's µs per instruction, or CPU time at the fixed rate). */
  cpu(id: string): Map<number, number>;
  /** Counted instructions per request, per window (empty without the instruction phase). */
  instructions(id: string): Map<number, number>;
  /** How many rounds (or instruction windows) the CPU figures have. */
  cpuRounds: number;
  /** What the CPU figure is, for the targets table. */
  cpuFigure: string;
  /** Acquire p99 (ms) under the open-loop load. */
  acquireP99(id: string): Map<number, number>;
  label(id: string): string;
  floor(id: string): string | undefined;
}

export type Verdict = 'met' | 'missed' | 'undecided' | 'not measured';

/** One row of the targets table. */
export interface TargetRow {
  variant: string;
  nest: string;
  /** What the figure is (e.g. "µs above the floor at 2,000 req/s"). */
  figure: string;
  required: string;
  unit: 'ratio' | 'µs' | 'ms';
  median: number | null;
  interval: [number, number] | null;
  /** Medians of the first and of the second half of the rounds. */
  halves: [number, number] | null;
  /** How far apart the halves may be for the figure to count as repeatable. */
  repeatTolerance: number;
  verdict: Verdict;
}

/** Ratios repeat within ±0.05; CPU figures within ±5 µs per request; latencies within ±0.05 ms. */
const TOLERANCE = { ratio: 0.05, µs: 5, ms: 0.05 } as const;

/** Per-round values of `a` combined with those of `b` of the same round (rounds one of them lacks are dropped). */
function zip(a: Map<number, number>, b: Map<number, number>, combine: (x: number, y: number) => number) {
  const out = new Map<number, number>();
  for (const [round, x] of a) if (b.has(round)) out.set(round, combine(x, b.get(round)!));
  return out;
}

function judge(
  values: Map<number, number>,
  rounds: number,
  limit: number,
  direction: 'at least' | 'at most',
): Pick<TargetRow, 'median' | 'interval' | 'halves' | 'verdict'> {
  const all = [...values.values()];
  const mid = median(all);
  const interval = range(all);
  if (mid === null || interval === null) return { median: null, interval: null, halves: null, verdict: 'not measured' };
  const half = Math.ceil(rounds / 2);
  const first = median([...values].filter(([round]) => round < half).map(([, value]) => value));
  const second = median([...values].filter(([round]) => round >= half).map(([, value]) => value));
  const [low, high] = interval;
  const good = (value: number) => (direction === 'at least' ? value >= limit : value <= limit);
  const worst = direction === 'at least' ? low : high;
  const best = direction === 'at least' ? high : low;
  const verdict: Verdict = good(worst) ? 'met' : good(best) ? 'undecided' : 'missed';
  return { median: mid, interval, halves: first !== null && second !== null ? [first, second] : null, verdict };
}

/** Judges every target of every subject on the run's per-round figures. */
export function judgeTargets(subjects: readonly TargetSubject[], figures: RoundFigures): TargetRow[] {
  const aboveFloor = (id: string) => {
    const floor = figures.floor(id);
    return floor === undefined ? new Map<number, number>() : zip(figures.cpu(id), figures.cpu(floor), (a, b) => a - b);
  };
  const rows: TargetRow[] = [];
  for (const subject of subjects) {
    for (const target of subject.targets ?? []) {
      const row = { variant: subject.label, nest: subject.nest };
      if (target.kind === 'of-variant') {
        const ratios = zip(figures.rps(subject.id), figures.rps(target.of), (a, b) => a / b);
        rows.push({
          ...row,
          figure: `req/s ÷ ${figures.label(target.of)}`,
          required: `≥ ${target.factor.toFixed(2)}`,
          unit: 'ratio',
          repeatTolerance: TOLERANCE.ratio,
          ...judge(ratios, figures.rounds, target.factor, 'at least'),
        });
      } else if (target.kind === 'instructions-of-variant') {
        const ratios = zip(figures.instructions(target.of), figures.instructions(subject.id), (a, b) => a / b);
        rows.push({
          ...row,
          figure: `app instructions/request of ${figures.label(target.of)} ÷ this variant's (counted)`,
          required: `≥ ${target.factor.toFixed(2)}`,
          unit: 'ratio',
          repeatTolerance: TOLERANCE.ratio,
          ...judge(ratios, figures.cpuRounds, target.factor, 'at least'),
        });
      } else if (target.kind === 'cpu-above-floor') {
        rows.push({
          ...row,
          figure: figures.cpuFigure,
          required: `≤ ${target.maxUs} µs`,
          unit: 'µs',
          repeatTolerance: TOLERANCE['µs'],
          ...judge(aboveFloor(subject.id), figures.cpuRounds, target.maxUs, 'at most'),
        });
      } else if (target.kind === 'cpu-above-floor-vs') {
        const difference = zip(aboveFloor(subject.id), aboveFloor(target.other), (a, b) => a - b);
        rows.push({
          ...row,
          figure: `${figures.cpuFigure}, minus that of ${figures.label(target.other)}`,
          required: `≤ ${target.slackUs ?? 0} µs`,
          unit: 'µs',
          repeatTolerance: TOLERANCE['µs'],
          ...judge(difference, figures.cpuRounds, target.slackUs ?? 0, 'at most'),
        });
      } else {
        rows.push({
          ...row,
          figure: 'acquire p99 (ms), open loop at half the saturating rate',
          required: `< ${target.maxMs} ms`,
          unit: 'ms',
          repeatTolerance: TOLERANCE.ms,
          ...judge(figures.acquireP99(subject.id), figures.rounds, target.maxMs, 'at most'),
        });
      }
    }
  }
  return rows;
}

/** Whether a row's halves are within its tolerance (null when it has no halves). */
export function repeats(row: TargetRow): boolean | null {
  return row.halves === null ? null : Math.abs(row.halves[0] - row.halves[1]) <= row.repeatTolerance + 1e-9;
}

/** The targets as a Markdown table (also what the harness prints). */
export function targetsTable(rows: readonly TargetRow[]): string {
  const digits = (row: TargetRow) => (row.unit === 'ratio' ? 2 : row.unit === 'ms' ? 3 : 1);
  const show = (row: TargetRow, value: number) => value.toFixed(digits(row));
  const verdict = (row: TargetRow) => (row.verdict === 'missed' ? '**missed**' : row.verdict);
  const repeat = (row: TargetRow) => {
    const ok = repeats(row);
    if (ok === null || row.halves === null) return '–';
    const [a, b] = row.halves;
    return `${show(row, a)} / ${show(row, b)} (${ok ? 'within' : '**outside**'} ±${row.repeatTolerance})`;
  };
  return [
    '| Nest | variant | figure | target | median | range over rounds | halves of the run | result |',
    '| --- | --- | --- | --- | ---: | ---: | ---: | --- |',
    ...rows.map(
      (row) =>
        `| ${row.nest} | ${row.variant} | ${row.figure} | ${row.required} | ${row.median === null ? '–' : show(row, row.median)} | ${row.interval ? `${show(row, row.interval[0])} to ${show(row, row.interval[1])}` : '–'} | ${repeat(row)} | ${verdict(row)} |`,
    ),
  ].join('\n');
}
