import { rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { OWN_SKIPPED_SUITES_FILE_ENV, readSkippedSuites, skippedSuitesLine } from './skipped-suites';

/**
 * A Vitest run started by itself (not by scripts/test.sh, which prints the line once every step has run) ends with
 * the line naming the suites it skipped.
 */
export default function globalTeardown(): void {
  const ownFile = process.env[OWN_SKIPPED_SUITES_FILE_ENV];
  if (!ownFile) return;
  console.log(`\n${skippedSuitesLine(readSkippedSuites(ownFile))}`);
  rmSync(dirname(ownFile), { recursive: true, force: true });
}
