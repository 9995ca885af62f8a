/*
 * CPU per request in instructions, counted by Valgrind's callgrind: the unit that repeats on a shared VM.
 *
 * Time-based CPU figures (process.cpuUsage) of one variant moved by a quarter between rounds on this machine,
 * with the machine otherwise idle: the guest's CPU time stretches with the host's load, and 20 µs targets
 * cannot be decided through that. An instruction count does not depend on how fast the host runs them
 * (SQLite tracks its performance this way, and CodSpeed and iai-callgrind do for CI). The app runs under
 * callgrind with nothing counted until the harness switches counting on around a measured window, so start-up,
 * warm-up and JIT compilation stay out; every thread (V8's collector helpers too) is counted, as the process's
 * CPU time would.
 */
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Valgrind's arguments for an app whose counts go to `outFile`, counting nothing until switched on. */
export function callgrindArgs(outFile: string): string[] {
  return ['--tool=callgrind', '--instr-atstart=no', `--callgrind-out-file=${outFile}`];
}

/** Whether valgrind (and callgrind_control) can be run here. */
export async function callgrindAvailable(): Promise<boolean> {
  try {
    await run('valgrind', ['--version']);
    await run('callgrind_control', ['--version']);
    return true;
  } catch {
    return false;
  }
}

/**
 * Counts the instructions the process `pid` (running under `callgrindArgs(outFile)`) executes while `window`
 * runs: switches counting on, awaits `window`, switches it off and dumps the counts, which callgrind writes to
 * `<outFile>.<n>` and then zeroes. Returns the total and that dump's path.
 */
export async function countInstructions(
  pid: number,
  outFile: string,
  window: () => Promise<void>,
): Promise<{ total: number; dump: string }> {
  const before = new Set(dumpsOf(outFile));
  await run('callgrind_control', ['--instr=on', String(pid)]);
  try {
    await window();
  } finally {
    await run('callgrind_control', ['--instr=off', String(pid)]);
  }
  await run('callgrind_control', ['--dump', String(pid)]);
  const dump = dumpsOf(outFile).find((file) => !before.has(file));
  if (!dump) throw new Error(`callgrind wrote no dump for process ${pid} next to ${outFile}`);
  return { total: totalOf(readFileSync(dump, 'utf8'), dump), dump };
}

/** The dump files callgrind has written for `outFile` so far (`<outFile>.1`, `<outFile>.2`, ...), full paths. */
function dumpsOf(outFile: string): string[] {
  const prefix = `${basename(outFile)}.`;
  return readdirSync(dirname(outFile))
    .filter((name) => name.startsWith(prefix))
    .map((name) => `${dirname(outFile)}/${name}`);
}

/** The instruction total of one callgrind dump (its `totals:` line, or `summary:` when that is all it has). */
export function totalOf(text: string, where = 'callgrind dump'): number {
  const match = /^totals: (\d+)/m.exec(text) ?? /^summary: (\d+)/m.exec(text);
  if (!match) throw new Error(`${where} has no totals line`);
  return Number(match[1]);
}
