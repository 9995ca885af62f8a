/**
 * Which NestJS major a test run is on. `IDEMPOTENCY_TEST_NEST_MAJOR=12` moves every package that imports @nestjs/*
 * to test/nest12 (the NestJS 12 install, `npm ci` there), for Vitest's import graph (the aliases below) and for
 * require() in the workers and in every child process (test/support/nest12-resolution.cjs through NODE_OPTIONS).
 * Unset, or 11, the run is on the repository's own NestJS 11.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AliasOptions } from 'vite';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const NEST12_MODULES = join(ROOT, 'test/nest12/node_modules');
const RESOLUTION_HOOK = join(ROOT, 'test/support/nest12-resolution.cjs');

export type NestMajor = '11' | '12';

export function nestMajor(): NestMajor {
  const major = process.env.IDEMPOTENCY_TEST_NEST_MAJOR ?? '11';
  if (major !== '11' && major !== '12') {
    throw new Error(`IDEMPOTENCY_TEST_NEST_MAJOR is ${major}; the suites run on NestJS 11 or 12`);
  }
  return major;
}

/** Vitest aliases and process settings for `major`; on 11, none. Fails when the NestJS 12 install is missing or stale. */
export function onNestMajor(major: NestMajor): { alias: Exclude<AliasOptions, Record<string, string>> } {
  if (major === '11') return { alias: [] };
  const core = join(NEST12_MODULES, '@nestjs/core/package.json');
  if (!existsSync(core)) {
    throw new Error('test/nest12 is not installed: run `npm ci` in test/nest12 (scripts/test.sh does)');
  }
  const version = (JSON.parse(readFileSync(core, 'utf8')) as { version: string }).version;
  if (!version.startsWith('12.')) throw new Error(`test/nest12 has @nestjs/core ${version}, not 12.x`);
  // Workers inherit this process's environment, and every child a suite starts inherits theirs.
  if (!process.env.NODE_OPTIONS?.includes(RESOLUTION_HOOK)) {
    process.env.NODE_OPTIONS = `${process.env.NODE_OPTIONS ?? ''} --require ${RESOLUTION_HOOK}`.trim();
  }
  const { NEST12_PACKAGES } = createRequire(import.meta.url)('./nest12-packages.cjs') as { NEST12_PACKAGES: string[] };
  return {
    alias: NEST12_PACKAGES.map((name) => ({
      find: new RegExp(`^${name.replace('/', '\\/')}(\\/.*)?$`),
      replacement: `${join(NEST12_MODULES, name)}$1`,
    })),
  };
}
