/*
 * The child side of the bench: every app under test runs in its own process, forked by the harness with an
 * IPC channel. This file depends on nothing but Node.js (the peer app, on Nest 10, uses it too): it records the library's
 * acquire latencies and outcomes, answers the harness's messages, and stops the app when told to (or when
 * the harness goes away), so no app outlives a bench run.
 */

import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';

/** Acquire latency and outcomes an app saw since the last reset. */
export interface AppStats {
  /** Events that carried `acquireMs`. */
  acquireCount: number;
  acquireP50Ms: number | null;
  acquireP99Ms: number | null;
  acquireMaxMs: number | null;
  /** Outcome → count (executed, replayed, ...). */
  outcomes: Record<string, number>;
  /** CPU time this process used since the last reset, in microseconds (user + system). */
  cpuUs: number;
  /**
   * How late a 1 ms timer fired, p99 and max (ms), since the last reset: the wait any callback (a store's reply
   * included) can have in front of it because the event loop is busy with other requests.
   */
  loopDelayP99Ms: number;
  loopDelayMaxMs: number;
  /**
   * V8's garbage-collection pauses of the main thread since the last reset (PerformanceObserver 'gc' entries): how
   * many, their total and the longest, in ms. A reply that arrives during one waits it out.
   */
  gcPauses: { count: number; totalMs: number; maxMs: number };
}

/** Messages from the harness to an app. */
export type HarnessMessage =
  /**
   * Clears the figures. `monitors: false` leaves the event-loop delay monitor and the GC observer off: under
   * callgrind a request takes thirty times as long, so the monitor's 1 ms timer would add thirty times the
   * instructions per request it adds natively (bench/lib/instruction-phase.ts).
   */
  | { type: 'reset'; monitors?: boolean }
  | { type: 'stats'; id: number }
  | { type: 'stop' }
  /** Starts V8's CPU profiler (`BENCH_PROFILE`): after start-up and warm-up, so neither is in the profile. */
  | { type: 'profile-start' }
  /** Stops it and writes the profile to `file` (Chrome DevTools' `.cpuprofile` format). */
  | { type: 'profile-stop'; file: string };

/** Messages from an app to the harness. */
export type AppMessage =
  | { type: 'ready'; url: string; pid: number }
  | { type: 'stats'; id: number; stats: AppStats }
  | { type: 'failed'; message: string }
  | { type: 'profile'; state: 'started' | 'written'; error?: string };

/** The fields of an idempotency event the recorder reads (kept structural, so the peer app needs no import). */
interface EventLike {
  outcome: string;
  acquireMs?: number;
}

/**
 * Collects `acquireMs` from the library's `events` hook in a growable typed array: recording one event is
 * a store into preallocated memory, so the measurement does not itself weigh on the request path.
 */
export class AcquireRecorder {
  private values = new Float64Array(1 << 16);
  private count = 0;
  private outcomes: Record<string, number> = {};
  private cpuAtReset = process.cpuUsage();
  // On only between a reset and the next stats request, i.e. while this app is being measured: its 1 ms timer
  // would otherwise wake every idle app a thousand times a second, on the core the measured app runs on.
  private readonly loopDelay = monitorEventLoopDelay({ resolution: 1 });
  private gcPauses = { count: 0, totalMs: 0, maxMs: 0 };
  // Observed, like the loop delay, only while this app is measured.
  private readonly gcObserver = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      this.gcPauses.count++;
      this.gcPauses.totalMs += entry.duration;
      this.gcPauses.maxMs = Math.max(this.gcPauses.maxMs, entry.duration);
    }
  });

  /** The `events` hook (or a function it calls). */
  readonly record = (event: EventLike): void => {
    this.outcomes[event.outcome] = (this.outcomes[event.outcome] ?? 0) + 1;
    if (event.acquireMs === undefined) return;
    if (this.count === this.values.length) {
      const grown = new Float64Array(this.values.length * 2);
      grown.set(this.values);
      this.values = grown;
    }
    this.values[this.count++] = event.acquireMs;
  };

  reset(monitors = true): void {
    this.count = 0;
    this.outcomes = {};
    this.cpuAtReset = process.cpuUsage();
    this.loopDelay.reset();
    this.gcPauses = { count: 0, totalMs: 0, maxMs: 0 };
    this.gcObserver.disconnect();
    if (!monitors) return;
    this.loopDelay.enable();
    this.gcObserver.observe({ entryTypes: ['gc'] });
  }

  stats(): AppStats {
    this.loopDelay.disable();
    this.gcObserver.disconnect();
    const sorted = this.values.slice(0, this.count).sort();
    const at = (q: number) =>
      sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] : null;
    return {
      acquireCount: sorted.length,
      acquireP50Ms: at(0.5),
      acquireP99Ms: at(0.99),
      acquireMaxMs: sorted.length ? sorted[sorted.length - 1] : null,
      outcomes: { ...this.outcomes },
      cpuUs: (({ user, system }) => user + system)(process.cpuUsage(this.cpuAtReset)),
      loopDelayP99Ms: this.loopDelay.percentile(99) / 1e6,
      loopDelayMaxMs: this.loopDelay.max / 1e6,
      gcPauses: { ...this.gcPauses },
    };
  }
}

/**
 * V8's CPU profiler driven over the inspector protocol from inside the app, so that a profile covers only the
 * measured rounds: `--cpu-prof` would also record start-up (ts-node compiling the app) and the warm-up. Between
 * this app's own measurements it is idle, which the profile shows as `(idle)` and no function's time.
 */
class WindowedProfiler {
  private session: Session | undefined;

  start(done: (error?: string) => void): void {
    const session = (this.session ??= new Session());
    session.connect();
    session.post('Profiler.enable', () =>
      session.post('Profiler.start', (error) => done(error ? String(error.message) : undefined)),
    );
  }

  stop(file: string, done: (error?: string) => void): void {
    const session = this.session;
    if (!session) return done('the profiler was not started');
    session.post('Profiler.stop', (error, result) => {
      if (error) return done(String(error.message));
      try {
        writeFileSync(file, JSON.stringify(result.profile));
        done();
      } catch (writeError) {
        done(writeError instanceof Error ? writeError.message : String(writeError));
      } finally {
        session.disconnect();
        this.session = undefined;
      }
    });
  }
}

/** A started app: where it listens and how to close it. */
export interface RunningBenchApp {
  url: string;
  close: () => Promise<void>;
}

/**
 * Starts the app and serves the harness over IPC. On `stop`, SIGTERM or a lost harness the app is closed and
 * the process exits (normally, so `--cpu-prof` writes its profile).
 */
export function serveBenchApp(start: () => Promise<RunningBenchApp>, recorder = new AcquireRecorder()): void {
  const send = (message: AppMessage) => process.send?.(message);
  let app: RunningBenchApp | undefined;
  let stopping = false;
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    // Bounded: an app that cannot close in time is left to process.exit.
    const timer = setTimeout(() => process.exit(code), 5000);
    timer.unref();
    try {
      await app?.close();
    } catch {
      // Exiting anyway.
    }
    process.exit(code);
  };

  const profiler = new WindowedProfiler();
  process.on('message', (message: HarnessMessage) => {
    if (message.type === 'reset') recorder.reset(message.monitors ?? true);
    else if (message.type === 'stats') send({ type: 'stats', id: message.id, stats: recorder.stats() });
    else if (message.type === 'stop') void stop(0);
    else if (message.type === 'profile-start')
      profiler.start((error) => send({ type: 'profile', state: 'started', error }));
    else if (message.type === 'profile-stop')
      profiler.stop(message.file, (error) => send({ type: 'profile', state: 'written', error }));
  });
  process.on('disconnect', () => void stop(0));
  process.on('SIGTERM', () => void stop(0));
  process.on('SIGINT', () => void stop(0));

  start()
    .then((running) => {
      app = running;
      send({ type: 'ready', url: running.url, pid: process.pid });
    })
    .catch((error: unknown) => {
      send({ type: 'failed', message: error instanceof Error ? (error.stack ?? error.message) : String(error) });
      void stop(1);
    });
}
