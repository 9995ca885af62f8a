/*
 * CPU pinning (`taskset`): the app under test gets cores of its own for its main thread, and the harness (with
 * autocannon, which runs inside it) and the Redis server the bench starts share the rest. Unpinned, the scheduler moves the app,
 * the load generator and the servers across the cores from moment to moment, and a round's figures depend on who
 * happened to share a core with whom; pinned, every variant meets the same arrangement. PostgreSQL and MariaDB
 * are the machine's services and are left where the system runs them.
 *
 * On by default where there are at least two cores and `taskset` exists; BENCH_PIN=0 turns it off.
 */
import { spawnSync } from 'node:child_process';
import { cpus } from 'node:os';

export interface Pinning {
  /** Cores of the harness, the load generator and the bench's own servers, as taskset's list (e.g. "0"). */
  load: string;
  /** Cores of the app under test (e.g. "1"). */
  app: string;
}

/** The arrangement for this machine, or null when pinning is off or impossible (and why, for the report). */
export function choosePinning(env = process.env): { pinning: Pinning | null; reason: string } {
  if (env.BENCH_PIN === '0') return { pinning: null, reason: 'BENCH_PIN=0' };
  const cores = cpus().length;
  if (cores < 2) return { pinning: null, reason: `one core only` };
  if (spawnSync('taskset', ['--version']).status !== 0) return { pinning: null, reason: 'taskset is not installed' };
  // The app gets the upper half (at least one core), the load and the servers the lower half.
  const appCores = Math.max(1, Math.floor(cores / 2));
  const list = (from: number, to: number) => (from === to ? String(from) : `${from}-${to}`);
  return {
    pinning: { load: list(0, cores - appCores - 1), app: list(cores - appCores, cores - 1) },
    reason: 'pinned',
  };
}

/**
 * Pins a running process: all its threads (`allThreads`; threads it starts later inherit the mask), or its main thread
 * only. An app is pinned by its main thread only: V8's garbage-collector threads confined to the same core as the main
 * thread cannot work beside it, and a full core costs it more CPU per request than a free one (measured here).
 */
export function pin(pid: number, coreList: string, allThreads = true): void {
  const args = [...(allThreads ? ['--all-tasks'] : []), '--cpu-list', '--pid', coreList, String(pid)];
  const result = spawnSync('taskset', args, {
    encoding: 'utf8',
  });
  if (result.status !== 0)
    throw new Error(`taskset could not pin process ${pid} to cores ${coreList}: ${result.stderr || result.error}`);
}
