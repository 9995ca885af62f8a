import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ts from 'typescript';
import { REPO_ROOT } from './processes';

/**
 * The bench's NestJS 12 install (bench/nest12): exact pins and a lock file of its own, because NestJS 12 is
 * ESM-only and the repository develops on 11. Plain `node` (>= 20.19, require(esm)) runs it; ts-node and Jest do not.
 */
export const NEST12_DIR = join(REPO_ROOT, 'bench/nest12');

// The trivial app imports the library as `@nest-idempotency/core` (the repository's path alias); in the Nest 12 install
// that name is a real package, the library built from source, so the compiled app needs no rewriting and the
// library's own require('@nestjs/...') lands on this install's NestJS 12 rather than the repository's 11.
const LIBRARY_DIR = join(NEST12_DIR, 'node_modules/@nest-idempotency/core');
const APP_OUT_DIR = join(NEST12_DIR, 'dist');
// Every file of bench/apps, so that a helper the trivial app starts to import is there too (the payments app's files
// are compiled but never run on Nest 12).
const APPS_DIR = join(REPO_ROOT, 'bench/apps');

/**
 * Installs bench/nest12 from its lock file when missing, builds the library from source into it and compiles the
 * trivial app next to it. Returns the compiled app's entry, to run with plain node. Every run rebuilds both, so
 * the bench measures the working tree, never a stale build.
 */
export function prepareNest12(log: (message: string) => void): string {
  checkRequireEsm();
  if (!existsSync(join(NEST12_DIR, 'node_modules/@nestjs/core/package.json'))) {
    log('installing bench/nest12 (npm ci; builds better-sqlite3, a few minutes the first time)');
    const result = spawnSync('npm', ['ci', '--no-audit', '--no-fund', '--loglevel=error'], {
      cwd: NEST12_DIR,
      stdio: 'inherit',
    });
    if (result.status !== 0)
      throw new Error(`npm ci in bench/nest12 failed (${result.status ?? result.error?.message})`);
  }
  const nestVersion = (
    JSON.parse(readFileSync(join(NEST12_DIR, 'node_modules/@nestjs/core/package.json'), 'utf8')) as { version: string }
  ).version;
  if (!nestVersion.startsWith('12.'))
    throw new Error(
      `bench/nest12 has @nestjs/core ${nestVersion}, not 12.x: delete bench/nest12/node_modules and rerun`,
    );

  log(`building the library into bench/nest12 (NestJS ${nestVersion})`);
  rmSync(LIBRARY_DIR, { recursive: true, force: true });
  mkdirSync(LIBRARY_DIR, { recursive: true });
  // The library's own build (tsconfig.lib.json, as `npm run build:lib`), written here instead of libs/idempotency/dist,
  // which `npm run pack:lib` (the consumer test) deletes and rebuilds.
  const build = spawnSync(
    process.execPath,
    [
      require.resolve('typescript/bin/tsc'),
      '-p',
      'libs/idempotency/tsconfig.lib.json',
      '--outDir',
      join(LIBRARY_DIR, 'dist'),
      '--declaration',
      'false',
    ],
    { cwd: REPO_ROOT, encoding: 'utf8' },
  );
  if (build.status !== 0)
    throw new Error(`building the library for bench/nest12 failed:\n${build.stdout}${build.stderr}`);
  copyFileSync(join(REPO_ROOT, 'libs/idempotency/package.json'), join(LIBRARY_DIR, 'package.json'));
  for (const dependency of Object.keys(libraryManifest().dependencies ?? {})) {
    if (!existsSync(join(NEST12_DIR, 'node_modules', dependency, 'package.json'))) {
      throw new Error(
        `the library depends on ${dependency}, which bench/nest12/package.json does not pin: add it (exact version) and rerun`,
      );
    }
  }

  // Type-checking is `npm run lint`'s job (bench/tsconfig.json); here each file only needs to become CommonJS.
  rmSync(APP_OUT_DIR, { recursive: true, force: true });
  mkdirSync(APP_OUT_DIR, { recursive: true });
  const options = ts.parseJsonConfigFileContent(
    ts.readConfigFile(join(REPO_ROOT, 'tsconfig.json'), ts.sys.readFile).config,
    ts.sys,
    REPO_ROOT,
  ).options;
  for (const source of readdirSync(APPS_DIR).filter((name) => name.endsWith('.ts'))) {
    const output = ts.transpileModule(readFileSync(join(APPS_DIR, source), 'utf8'), {
      fileName: source,
      compilerOptions: { ...options, sourceMap: false, inlineSourceMap: true, inlineSources: true, declaration: false },
      reportDiagnostics: true,
    });
    if (output.diagnostics?.length)
      throw new Error(
        `compiling ${source} for Nest 12: ${ts.flattenDiagnosticMessageText(output.diagnostics[0].messageText, '\n')}`,
      );
    writeFileSync(join(APP_OUT_DIR, source.replace(/\.ts$/, '.js')), output.outputText);
  }
  return join(APP_OUT_DIR, 'trivial-app.js');
}

function libraryManifest(): { dependencies?: Record<string, string> } {
  return JSON.parse(readFileSync(join(REPO_ROOT, 'libs/idempotency/package.json'), 'utf8'));
}

function checkRequireEsm(): void {
  const features = process.features as { require_module?: boolean };
  if (features.require_module !== true) {
    throw new Error(
      `Node ${process.versions.node} cannot require() ES modules; the Nest 12 variants need Node >= 20.19 (or >= 22.12)`,
    );
  }
}
