import { ChildProcess, spawn } from 'node:child_process';
import { resolve } from 'node:path';

/** The repository root, where children run. */
export const REPOSITORY_ROOT = resolve(__dirname, '../..');

/** Node's options that let a child run the repository's TypeScript with the `@nest-idempotency/core` paths. */
export const TS_NODE_PRELOAD = ['-r', 'ts-node/register/transpile-only', '-r', 'tsconfig-paths/register'];

/** How a child ended: its exit code (null when killed), what it printed (colours removed), and how long it ran. */
export interface ChildRun {
  code: number | null;
  output: string;
  elapsedMs: number;
  /** Whether it was still running at `timeoutMs`, and so was killed. */
  timedOut: boolean;
}

const running = new Set<ChildProcess>();

/**
 * Runs `node args` from the repository root until it exits by itself, or kills it after `timeoutMs`. A suite calls
 * `killChildren()` in its afterAll, so that no child outlives it.
 */
export function runNode(args: string[], env: Record<string, string>, timeoutMs: number): Promise<ChildRun> {
  const started = Date.now();
  const child = spawn(process.execPath, args, {
    cwd: REPOSITORY_ROOT,
    env: { ...process.env, ...env, TS_NODE_PROJECT: 'tsconfig.json', FORCE_COLOR: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, timeoutMs);
  return new Promise((done) =>
    child.once('exit', (code) => {
      clearTimeout(timer);
      running.delete(child);
      // eslint-disable-next-line no-control-regex
      done({ code, output: output.replace(/\x1b\[[0-9;]*m/g, ''), elapsedMs: Date.now() - started, timedOut });
    }),
  );
}

/**
 * Runs `script` (`node -e`) on the repository's TypeScript with test/support/module-loads.cjs preloaded, which the
 * environment tells which packages to make missing (`WITHOUT_MODULES`) or to report when loaded (`WATCH_MODULES`).
 */
export function runScriptWithModuleLoads(script: string, env: Record<string, string>): Promise<ChildRun> {
  return runNode([...TS_NODE_PRELOAD, '-r', './test/support/module-loads.cjs', '-e', script], env, 30_000);
}

/** Kills every child `runNode` started that is still running. */
export function killChildren(): void {
  for (const child of running) child.kill('SIGKILL');
  running.clear();
}
