import { appendFileSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';

/**
 * Which suites a run skipped, and why. A suite that skips (a server down, a tool missing) records itself in the
 * file this variable names (set by the global setup, or by scripts/test.sh for the whole `npm test`), and the run
 * ends with one line naming them all: a green run that skipped RabbitMQ's suites must not read like a full one.
 */
export const SKIPPED_SUITES_FILE_ENV = 'IDEMPOTENCY_SKIPPED_SUITES_FILE';

/** Set when the global setup made that file itself, so that the teardown prints the line and removes it. */
export const OWN_SKIPPED_SUITES_FILE_ENV = 'IDEMPOTENCY_OWN_SKIPPED_SUITES_FILE';

const ROOT = resolve(__dirname, '../..');

/** Gives the run a file to record skipped suites in, unless scripts/test.sh already gave it one. */
export function provideSkippedSuitesFile(): void {
  if (process.env[SKIPPED_SUITES_FILE_ENV]) return;
  const file = join(mkdtempSync(join(tmpdir(), 'skipped-suites-')), 'skipped.jsonl');
  writeFileSync(file, '');
  process.env[SKIPPED_SUITES_FILE_ENV] = file;
  process.env[OWN_SKIPPED_SUITES_FILE_ENV] = file;
}

export interface SkippedSuite {
  file: string;
  name: string;
  reason: string;
  /** The NestJS major the run was on (scripts/on-each-nest-major.sh runs each suite on 11 and 12). */
  nestMajor?: string;
}

/** Notes that the calling test file skips `name` because of `reason`. */
export function recordSkippedSuite(name: string, reason: string): void {
  const target = process.env[SKIPPED_SUITES_FILE_ENV];
  if (!target) return;
  const testPath = expect.getState().testPath;
  const entry: SkippedSuite = {
    file: testPath ? relative(ROOT, testPath) : '?',
    name,
    reason,
    nestMajor: process.env.IDEMPOTENCY_TEST_NEST_MAJOR ?? '11',
  };
  appendFileSync(target, `${JSON.stringify(entry)}\n`);
}

export function readSkippedSuites(file: string): SkippedSuite[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as SkippedSuite);
}

/** The run's last line: "none", or every skipped suite grouped by why. */
export function skippedSuitesLine(skipped: SkippedSuite[]): string {
  if (skipped.length === 0) return 'Skipped suites: none, every suite ran.';
  const byReason = new Map<string, string[]>();
  for (const { file, name, reason, nestMajor } of skipped) {
    const where = nestMajor ? `${file} on NestJS ${nestMajor}` : file;
    byReason.set(reason, [...(byReason.get(reason) ?? []), `${where} (${name})`]);
  }
  const groups = [...byReason].map(([reason, suites]) => `${reason}: ${suites.join(', ')}`);
  return `Skipped suites: ${skipped.length}, so this was NOT a full run. ${groups.join('; ')}.`;
}
