/*
 * The child side of the bench: every app under test runs in its own process, forked by the harness with an
 * IPC channel. This file has no dependency (the peer app, on Nest 10, uses it too): it records the library's
 * acquire latencies and outcomes, answers the harness's messages, and stops the app when told to (or when
 * the harness goes away), so no app outlives a bench run.
 */

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
}

/** Messages from the harness to an app. */
export type HarnessMessage = { type: 'reset' } | { type: 'stats'; id: number } | { type: 'stop' };

/** Messages from an app to the harness. */
export type AppMessage =
  | { type: 'ready'; url: string; pid: number }
  | { type: 'stats'; id: number; stats: AppStats }
  | { type: 'failed'; message: string };

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

  reset(): void {
    this.count = 0;
    this.outcomes = {};
    this.cpuAtReset = process.cpuUsage();
  }

  stats(): AppStats {
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
    };
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

  process.on('message', (message: HarnessMessage) => {
    if (message.type === 'reset') recorder.reset();
    else if (message.type === 'stats') send({ type: 'stats', id: message.id, stats: recorder.stats() });
    else if (message.type === 'stop') void stop(0);
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
