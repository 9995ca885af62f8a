/*
 * Measurements at a fixed request rate (an open loop, lib/open-loop.ts: each request leaves when it is due, whether
 * or not the app has answered the ones before), after the closed-loop rounds. Two figures need it:
 * - app CPU per request: at saturation it depends on how many requests share an event-loop turn, which differs
 *   from variant to variant, so variants are compared at one rate that none of them saturates;
 * - acquire latency: at saturation the p99 measures the queue in front of the lookup, not the lookup, so it is
 *   measured at half the rate that saturates the variant.
 * Rounds are interleaved like the closed-loop ones (rotated, every other one reversed).
 */
import type { AppStats } from '../apps/app-process';
import type { LoadResult, RequestShape } from './load';
import { runOpenLoop } from './open-loop';
import type { AppProcess } from './processes';
import { roundOrder } from './stats';

/** One variant in the phase: its app, its requests, and the rate it is driven at. */
export interface FixedRateEntry {
  id: string;
  app: AppProcess;
  request: () => RequestShape;
  rate: number;
}

/** One variant in one round at its fixed rate. */
export interface FixedRateMeasurement {
  variant: string;
  round: number;
  rate: number;
  /** 2xx responses per second: close to `rate` unless the app fell behind. */
  rps: number;
  requests: number;
  cpuUsPerRequest: number;
  acquireP50Ms: number | null;
  acquireP99Ms: number | null;
  latencyP99Ms: number;
  /** The app's event-loop delay p99 (ms): what any reply waits for before its callback runs. */
  loopDelayP99Ms: number;
  /** The app's garbage-collection pauses over the measurement: how many per second, and the longest (ms). */
  gcPausesPerS: number;
  gcPauseMaxMs: number;
}

export interface FixedRatePhase {
  entries: FixedRateEntry[];
  rounds: number;
  durationS: number;
  connections: number;
  /** Throws when a measurement on `app` saw errors or outcomes the variant must not have. */
  check: (id: string, load: LoadResult, stats: AppStats, app: AppProcess) => Promise<void>;
  log: (message: string) => void;
}

/** Runs every entry once per round at its rate, in rotated order, and returns what each round measured. */
export async function runFixedRatePhase(phase: FixedRatePhase): Promise<FixedRateMeasurement[]> {
  const { entries, rounds, durationS, connections } = phase;
  const measurements: FixedRateMeasurement[] = [];
  for (let round = 0; round < rounds; round++) {
    const order = roundOrder(entries, round);
    for (const entry of order) {
      entry.app.reset();
      const load = await runOpenLoop(entry.app.url, entry.request, {
        rate: entry.rate,
        durationS,
        maxConnections: connections,
      });
      const stats = await entry.app.stats();
      await entry.app.settle();
      await phase.check(entry.id, load, stats, entry.app);
      const measurement: FixedRateMeasurement = {
        variant: entry.id,
        round,
        rate: entry.rate,
        rps: load.rps,
        requests: load.requests,
        cpuUsPerRequest: stats.cpuUs / Math.max(1, load.requests),
        acquireP50Ms: stats.acquireP50Ms,
        acquireP99Ms: stats.acquireP99Ms,
        latencyP99Ms: load.latencyP99Ms,
        loopDelayP99Ms: stats.loopDelayP99Ms,
        gcPausesPerS: stats.gcPauses.count / durationS,
        gcPauseMaxMs: stats.gcPauses.maxMs,
      };
      measurements.push(measurement);
      phase.log(
        `  ${entry.id.padEnd(20)} at ${entry.rate} req/s: ${load.rps.toFixed(0)} req/s, app CPU ${measurement.cpuUsPerRequest.toFixed(1)} µs/req` +
          (stats.acquireP99Ms !== null
            ? `, acquire p50 ${stats.acquireP50Ms!.toFixed(3)} p99 ${stats.acquireP99Ms.toFixed(3)} ms`
            : '') +
          `, event-loop delay p99 ${stats.loopDelayP99Ms.toFixed(3)} ms` +
          `, GC pauses ${measurement.gcPausesPerS.toFixed(1)}/s (longest ${stats.gcPauses.maxMs.toFixed(2)} ms)`,
      );
    }
  }
  return measurements;
}

/** A rate every variant sustains without saturating: `share` of the slowest one's closed-loop req/s, in hundreds. */
export function commonRate(saturatedRps: readonly number[], share = 0.5): number {
  return Math.max(100, Math.floor((Math.min(...saturatedRps) * share) / 100) * 100);
}
