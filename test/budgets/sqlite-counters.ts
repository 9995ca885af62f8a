import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Database, Statement } from 'better-sqlite3';

/** Whether `strace` can be run here; without it the fsync budgets are skipped and say so. */
export const STRACE_AVAILABLE = spawnSync('strace', ['-V']).status === 0;

/** Counts the statements one better-sqlite3 connection executes; `restore` takes the counting out again. */
export interface StatementCounter {
  /** The first words of each statement `work` executed, in order. */
  statementsOf(work: () => Promise<unknown>): Promise<string[]>;
  restore(): void;
}

/**
 * Counts what `db` executes: better-sqlite3 runs every statement, a transaction's BEGIN and COMMIT included, through
 * its Statement class's run/get/all/iterate. That class is the native addon's, loaded once per process and shared by
 * every test file the runner runs in it: restore it when done.
 */
export function countStatements(db: Database): StatementCounter {
  let executed: string[] | undefined;
  const prototype = Object.getPrototypeOf(db.prepare('SELECT 1')) as Record<string, unknown>;
  const originals = (['run', 'get', 'all', 'iterate'] as const).map((method) => {
    const original = prototype[method] as (...args: unknown[]) => unknown;
    prototype[method] = function (this: Statement, ...args: unknown[]) {
      if (executed && this.database === db) executed.push(this.source.trim().split(/\s+/).slice(0, 2).join(' '));
      return original.apply(this, args);
    };
    return [method, original] as const;
  });
  return {
    async statementsOf(work) {
      executed = [];
      try {
        await work();
        return executed;
      } finally {
        executed = undefined;
      }
    },
    restore() {
      for (const [method, original] of originals) prototype[method] = original;
    },
  };
}

/** What this process did to the files of one SQLite database while some work ran, as strace saw it. */
export interface FileSyncs {
  /** fsync and fdatasync calls on the database's files (the main file, its -wal and -shm). */
  syncs: number;
  /** Transactions committed to the WAL: frames whose header carries the database size, as only a commit's last does. */
  walCommits: number;
}

/**
 * Traces this process (`strace -p`, every thread) while `work` runs and counts the syncs and WAL commits on the files
 * whose paths start with `databasePath`. Counted in the kernel, not in SQLite, so nothing the library or the driver
 * does can hide from it.
 */
export async function fileSyncsOf(databasePath: string, work: () => Promise<unknown>): Promise<FileSyncs> {
  const log = `${databasePath}.strace`;
  const strace = spawn(
    'strace',
    ['-f', '-y', '-xx', '-e', 'trace=fsync,fdatasync,pwrite64', '-o', log, '-p', String(process.pid)],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let said = '';
  strace.stderr!.on('data', (chunk: Buffer) => (said += chunk.toString()));
  const exited = new Promise((resolve) => strace.once('exit', resolve));
  try {
    for (const deadline = Date.now() + 5_000; !said.includes('attached'); await sleep(10)) {
      if (Date.now() > deadline || strace.exitCode !== null) throw new Error(`strace did not attach: ${said}`);
    }
    await work();
  } finally {
    strace.kill('SIGINT');
    await exited;
  }
  // -xx writes every byte of a string as \xNN, the paths -y adds included.
  const path = hexEscaped(databasePath);
  const walFile = `<${path}${hexEscaped('-wal')}>`;
  const lines = readFileSync(log, 'utf8')
    .split('\n')
    .filter((line) => line.includes(`<${path}`));
  rmSync(log, { force: true });
  return {
    syncs: lines.filter((line) => /^\d+\s+f(data)?sync\(/.test(line)).length,
    walCommits: lines.filter((line) => endsWalCommit(line, walFile)).length,
  };
}

/** `text` as strace -xx writes it. */
function hexEscaped(text: string): string {
  return [...Buffer.from(text)].map((byte) => `\\x${byte.toString(16).padStart(2, '0')}`).join('');
}

/**
 * Whether `line` writes a WAL frame header that ends a commit. The header is 24 bytes: the page number, then the
 * database size in pages on a commit's last frame and 0 on every other frame, then salts and checksums.
 */
function endsWalCommit(line: string, walFile: string): boolean {
  const start = line.indexOf(`pwrite64(`);
  const at = line.indexOf(`${walFile}, "`, start);
  if (start < 0 || at < 0 || !line.includes('", 24, ', at)) return false;
  const header = line.slice(at + walFile.length + 3).split('"')[0];
  const sizeInPages = header.slice(4 * 4, 8 * 4);
  return sizeInPages !== '\\x00'.repeat(4);
}
