import { ChildProcess, fork, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { AppMessage, AppStats, HarnessMessage } from '../apps/app-process';
import { callgrindArgs } from './instruction-count';

/** The repository root (the bench runs from it). */
export const REPO_ROOT = resolve(__dirname, '../..');

// Everything the bench started, so that none outlives it: stopped in order by stopAll(), killed outright
// should the harness exit any other way.
const running = new Set<{ name: string; child: ChildProcess; stop: () => Promise<void> }>();
process.once('exit', () => {
  for (const { child } of running) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

/** Stops every process the bench started (apps first, servers last), each within a bounded time. */
export async function stopAll(): Promise<void> {
  const all = [...running].reverse();
  for (const entry of all) {
    try {
      await entry.stop();
    } catch (error) {
      console.error(`could not stop ${entry.name}: ${String(error)}`);
    }
  }
}

/** How many processes the bench still has running (0 after stopAll). */
export function runningCount(): number {
  return [...running].filter(({ child }) => child.exitCode === null && child.signalCode === null).length;
}

async function stopChild(child: ChildProcess, politely: () => void, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  politely();
  const term = setTimeout(() => child.kill('SIGTERM'), graceMs);
  const kill = setTimeout(() => child.kill('SIGKILL'), graceMs * 2);
  await exited;
  clearTimeout(term);
  clearTimeout(kill);
}

/** An app under test in its own Node process, talking to the harness over IPC. */
export class AppProcess {
  private child!: ChildProcess;
  private output = '';
  private nextId = 0;
  private stopEntry: (() => Promise<void>) | undefined;
  private readonly pending = new Map<number, (stats: AppStats) => void>();
  url = '';

  constructor(
    readonly name: string,
    private readonly entry: string,
    private readonly options: {
      env?: Record<string, string>;
      tsProject?: string;
      /** Where `stopProfile` writes this app's CPU profile (`<name>.cpuprofile`); unset: never profiled. */
      cpuProfileDir?: string;
      cwd?: string;
      /** A compiled .js entry run with plain node (the Nest 12 apps), rather than a .ts one through ts-node. */
      plainNode?: boolean;
      /**
       * Runs the app under Valgrind's callgrind, counting nothing until `countInstructions` switches it on; its
       * counts are written to this file (see bench/lib/instruction-count.ts).
       */
      callgrindOut?: string;
      /** Node options before the entry (e.g. `--perf-basic-prof`, so callgrind's JIT addresses can be named). */
      nodeArgs?: string[];
    },
  ) {}

  /** Forks the app and resolves once it listens (rejects with its output if it fails or takes too long). */
  async start(timeoutMs = 120_000): Promise<void> {
    const execArgv = [
      ...(this.options.nodeArgs ?? []),
      ...(this.options.plainNode
        ? []
        : ['-r', require.resolve('ts-node/register/transpile-only'), '-r', require.resolve('tsconfig-paths/register')]),
    ];
    const spawnOptions = {
      cwd: this.options.cwd ?? REPO_ROOT,
      env: {
        ...process.env,
        TS_NODE_PROJECT: this.options.tsProject ?? join(REPO_ROOT, 'tsconfig.json'),
        TS_NODE_TRANSPILE_ONLY: 'true',
        NODE_ENV: 'production',
        ...this.options.env,
      },
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'] as ('ignore' | 'pipe' | 'ipc')[],
    };
    const callgrindOut = this.options.callgrindOut;
    const child = callgrindOut
      ? spawn('valgrind', [...callgrindArgs(callgrindOut), process.execPath, ...execArgv, this.entry], spawnOptions)
      : fork(this.entry, [], { ...spawnOptions, execArgv: [...execArgv] });
    this.child = child;
    const entry = {
      name: this.name,
      child,
      stop: () =>
        stopChild(child, () => child.connected && child.send({ type: 'stop' } satisfies HarnessMessage), 10_000),
    };
    this.stopEntry = entry.stop;
    running.add(entry);
    child.once('exit', () => running.delete(entry));
    const collect = (chunk: Buffer) => {
      this.output = (this.output + chunk.toString()).slice(-8000);
    };
    child.stdout!.on('data', collect);
    child.stderr!.on('data', collect);
    child.on('message', (message: AppMessage) => {
      if (message.type === 'stats') {
        this.pending.get(message.id)?.(message.stats);
        this.pending.delete(message.id);
      }
    });
    this.url = await new Promise<string>((resolveUrl, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`${this.name} did not start within ${timeoutMs} ms:\n${this.output}`)),
        timeoutMs,
      );
      child.on('message', (message: AppMessage) => {
        if (message.type === 'ready') {
          clearTimeout(timer);
          resolveUrl(message.url);
        } else if (message.type === 'failed') {
          clearTimeout(timer);
          reject(new Error(`${this.name} failed to start: ${message.message}\n${this.output}`));
        }
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`${this.name} exited (${code ?? signal}) before listening:\n${this.output}`));
      });
    });
    // From now on an unexpected exit is a failure of the run, reported when the harness next asks.
    child.once('exit', (code, signal) => {
      // A stats request still waiting learns that the app is gone.
      for (const [, settle] of this.pending) settle(undefined as unknown as AppStats);
      if (code !== 0) this.output += `\n[exited ${code ?? signal}]`;
    });
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /**
   * Waits until the app has finished the requests a measurement left in flight (autocannon stops without waiting
   * for them): until its event count has not changed for 450 ms (which also gives an unguarded app, which reports
   * no events, time to drain), at most `timeoutMs`.
   */
  async settle(timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const total = async () => Object.values((await this.stats()).outcomes).reduce((sum, n) => sum + n, 0);
    let last = await total();
    let quiet = 0;
    while (quiet < 3 && Date.now() < deadline) {
      await sleep(150);
      const now = await total();
      quiet = now === last ? quiet + 1 : 0;
      last = now;
    }
  }

  /** Stops this app (politely, then by signal), before the others `stopAll` stops. */
  async stop(): Promise<void> {
    await this.stopEntry?.();
  }

  /** Clears the app's acquire latencies and outcome counts (`monitors: false`: and leaves its timers off). */
  reset({ monitors = true }: { monitors?: boolean } = {}): void {
    this.assertAlive();
    this.child.send({ type: 'reset', monitors } satisfies HarnessMessage);
  }

  /** The app's acquire latencies and outcomes since the last reset. */
  stats(timeoutMs = 10_000): Promise<AppStats> {
    this.assertAlive();
    const id = ++this.nextId;
    return new Promise((resolveStats, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.name} did not answer a stats request`)), timeoutMs);
      this.pending.set(id, (stats) => {
        clearTimeout(timer);
        if (stats === undefined) reject(new Error(`${this.name} exited:\n${this.output}`));
        else resolveStats(stats);
      });
      this.child.send({ type: 'stats', id } satisfies HarnessMessage);
    });
  }

  /** Starts the app's CPU profiler, if it is to be profiled; resolves once it runs. */
  startProfile(): Promise<void> {
    return this.profileStep({ type: 'profile-start' }, 'started');
  }

  /** Stops the app's CPU profiler and resolves once `<cpuProfileDir>/<name>.cpuprofile` is written. */
  stopProfile(): Promise<void> {
    const dir = this.options.cpuProfileDir;
    if (!dir) return Promise.resolve();
    return this.profileStep({ type: 'profile-stop', file: join(dir, `${this.name}.cpuprofile`) }, 'written');
  }

  /** Sends one profiler message to an app that is to be profiled, and waits for its acknowledgement. */
  private profileStep(message: HarnessMessage, state: 'started' | 'written', timeoutMs = 60_000): Promise<void> {
    if (!this.options.cpuProfileDir) return Promise.resolve();
    this.assertAlive();
    const child = this.child;
    return new Promise((done, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.name}: the profiler did not answer`)), timeoutMs);
      const listen = (reply: AppMessage) => {
        if (reply.type !== 'profile' || reply.state !== state) return;
        clearTimeout(timer);
        child.off('message', listen);
        if (reply.error) reject(new Error(`${this.name}: profiling failed: ${reply.error}`));
        else done();
      };
      child.on('message', listen);
      child.send(message);
    });
  }

  /** The last lines the app printed. */
  recentOutput(): string {
    return this.output;
  }

  private assertAlive(): void {
    if (!this.child || this.child.exitCode !== null || this.child.signalCode !== null || !this.child.connected) {
      throw new Error(`${this.name} is not running:\n${this.output}`);
    }
  }
}

/** A free TCP port on 127.0.0.1 (the OS picks it). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done, reject) => server.once('error', reject).listen(0, '127.0.0.1', done));
  const { port } = server.address() as { port: number };
  await new Promise((done) => server.close(done));
  return port;
}

/**
 * A dedicated `redis-server` on a free loopback port, without persistence, so the bench neither disturbs nor is
 * disturbed by whatever else uses the machine's Redis, and its memory figures count only the bench's records.
 */
export async function startRedisServer(): Promise<{ url: string; port: number; pid: number }> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'idempotency-bench-redis-'));
  const child = spawn(
    'redis-server',
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--daemonize',
      'no',
      '--dir',
      dir,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout!.on('data', (chunk) => (output = (output + chunk).slice(-4000)));
  child.stderr!.on('data', (chunk) => (output = (output + chunk).slice(-4000)));
  const spawnError = new Promise<never>((_, reject) =>
    child.once('error', (error) =>
      reject(
        new Error(
          `redis-server could not be started (${error.message}); install it (apt-get install redis-server) or set BENCH_REDIS_URL`,
        ),
      ),
    ),
  );
  spawnError.catch(() => undefined);
  const entry = {
    name: 'redis-server',
    child,
    stop: async () => {
      await stopChild(child, () => child.kill('SIGTERM'), 5000);
      rmSync(dir, { recursive: true, force: true });
    },
  };
  running.add(entry);
  child.once('exit', () => running.delete(entry));
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`redis-server exited at start:\n${output}`);
    const ready = await Promise.race([ping(port), spawnError]);
    if (ready) break;
    if (Date.now() > deadline)
      throw new Error(`redis-server on port ${port} did not answer PING within 10 s:\n${output}`);
    await sleep(50);
  }
  return { url: `redis://127.0.0.1:${port}`, port, pid: child.pid! };
}

function ping(port: number): Promise<boolean> {
  return new Promise((done) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.setTimeout(500);
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (data) => {
      socket.destroy();
      done(data.toString().startsWith('+PONG'));
    });
    socket.once('error', () => done(false));
    socket.once('timeout', () => {
      socket.destroy();
      done(false);
    });
  });
}
