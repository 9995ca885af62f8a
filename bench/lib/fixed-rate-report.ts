/*
 * The sections of docs/benchmarks.md that the fixed-rate phases feed: app CPU per request at one rate, and acquire
 * latency at half of each variant's saturating rate (bench/lib/fixed-rate-phase.ts).
 */
import type { FixedRateMeasurement } from './fixed-rate-phase';
import type { BenchReport } from './report';
import { median, range } from './stats';

const fixed = (value: number | null | undefined, digits: number) =>
  value === null || value === undefined ? '–' : value.toFixed(digits);

const spread = (values: readonly number[], digits: number) => {
  const r = range(values);
  return r ? `${r[0].toFixed(digits)} to ${r[1].toFixed(digits)}` : '–';
};

function byVariant(measurements: readonly FixedRateMeasurement[]): Map<string, FixedRateMeasurement[]> {
  const out = new Map<string, FixedRateMeasurement[]>();
  for (const m of measurements) out.set(m.variant, [...(out.get(m.variant) ?? []), m]);
  return out;
}

/** Median GC pauses per second and the longest pause of any round (older runs' figures lack them). */
function gcColumn(ms: readonly FixedRateMeasurement[]): string {
  const perS = ms.flatMap((m) => (m.gcPausesPerS === undefined ? [] : [m.gcPausesPerS]));
  if (!perS.length) return '–';
  return `${fixed(median(perS), 1)} (${fixed(Math.max(...ms.map((m) => m.gcPauseMaxMs ?? 0)), 2)})`;
}

/** App CPU per request at the common rate, and above each variant's floor (per-round differences). */
export function renderFixedRateCpu(report: BenchReport): string {
  const phase = report.fixedRate;
  if (!phase) return '';
  const label = (id: string) => report.variants.find((v) => v.id === id)?.label ?? id;
  const floorOf = (id: string) => report.variants.find((v) => v.id === id)?.floor;
  const measured = byVariant(phase.measurements);
  const rows = [...measured].map(([id, ms]) => {
    const floor = floorOf(id);
    const floorMs = floor ? (measured.get(floor) ?? []) : [];
    const above = ms.flatMap((m) => {
      const same = floorMs.find((f) => f.round === m.round);
      return same ? [m.cpuUsPerRequest - same.cpuUsPerRequest] : [];
    });
    return (
      `| ${label(id)} | ${fixed(median(ms.map((m) => m.rps)), 0)} | ${fixed(median(ms.map((m) => m.cpuUsPerRequest)), 1)} | ` +
      `${spread(
        ms.map((m) => m.cpuUsPerRequest),
        1,
      )} | ${floor && above.length ? `${fixed(median(above), 1)} (${spread(above, 1)})` : '– (the floor)'} |`
    );
  });
  return `### App CPU per request at a fixed rate

Every variant the CPU targets compare, driven at the same ${phase.rate} req/s (half the closed-loop rate of the slowest of
them, so none is saturated), open loop, ${report.settings.rounds} interleaved rounds of ${report.settings.durationS} s. At
saturation CPU per request depends on how many requests share an event-loop turn, which differs between variants; at one
rate below saturation it is what each request costs. "Above the floor" is, round by round, the variant's figure minus
its framework's pass-through interceptor's in the same round.

| variant | req/s served | app CPU (µs/req, median) | range over rounds | above the floor (µs/req, median and range) |
| --- | ---: | ---: | ---: | ---: |
${rows.join('\n')}
`;
}

/** Acquire latency under an open-loop load at half the saturating rate. */
export function renderOpenLoopAcquire(report: BenchReport): string {
  const phase = report.openLoop;
  if (!phase?.length) return '';
  const label = (id: string) => report.variants.find((v) => v.id === id)?.label ?? id;
  const rows = [...byVariant(phase)].map(([id, ms]) => {
    const p99 = ms.flatMap((m) => (m.acquireP99Ms === null ? [] : [m.acquireP99Ms]));
    const p50 = ms.flatMap((m) => (m.acquireP50Ms === null ? [] : [m.acquireP50Ms]));
    return `| ${label(id)} | ${ms[0].rate} | ${fixed(median(ms.map((m) => m.rps)), 0)} | ${fixed(median(p50), 3)} | ${fixed(median(p99), 3)} | ${spread(p99, 3)} | ${fixed(median(ms.map((m) => m.loopDelayP99Ms)), 3)} | ${gcColumn(ms)} | ${fixed(median(ms.map((m) => m.latencyP99Ms)), 1)} |`;
  });
  return `### Acquire latency at half the saturating rate

The library's own \`acquireMs\` (from its \`events\` hook) under an open loop at a fixed rate, half the median req/s the
same variant reached in the closed-loop rounds: each request leaves when it is due, evenly spaced, whatever the app
answers (bench/lib/open-loop.ts, at most ${report.settings.connections} connections). This is the lookup's latency with the
app busy half the time, rather than the queue in front of it at saturation. (autocannon's \`overallRate\` sends each
second's quota as fast as the app answers and then waits, which saturates the app for half of every second.)
The event-loop delay is how late a 1 ms timer fired in the same app over the same seconds (\`monitorEventLoopDelay\`):
a store's reply that arrives while the loop is busy with other requests waits as long before the library sees it. GC
pauses are V8's collections on the app's main thread over the same seconds (\`PerformanceObserver\`, entry type \`gc\`).
A bare-driver floor's acquire is its claim statement, timed the same way: what the engine itself takes to commit it.

| variant | rate sent (req/s) | served (req/s) | acquire p50 (ms) | acquire p99 (ms, median) | p99 range over rounds | event-loop delay p99 (ms) | GC pauses per s (longest, ms) | request p99 (ms) |
| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |
${rows.join('\n')}
`;
}
