/**
 * One Vitest run for the library's unit specs and the e2e suites under test/, on NestJS 11, or on NestJS 12 with
 * `IDEMPOTENCY_TEST_NEST_MAJOR=12` (test/support/nest-major.mts). Vitest loads ES modules and CommonJS alike (NestJS
 * 12 is ESM-only); SWC compiles the TypeScript, since Nest's dependency injection needs the decorator metadata that
 * Vite's own transform (esbuild) does not emit. Files run one at a time, as the suites share the machine's servers.
 */
import { fileURLToPath } from 'node:url';
import swc from 'unplugin-swc';
import { defineConfig } from 'vitest/config';
import { nestMajor, onNestMajor } from './test/support/nest-major.mjs';

const ROOT = fileURLToPath(new URL('.', import.meta.url));
const NEST_MAJOR = nestMajor();

export const sharedConfig = defineConfig({
  plugins: [swc.vite({ module: { type: 'es6' } })],
  resolve: {
    alias: [
      ...onNestMajor(NEST_MAJOR).alias,
      { find: /^@nest-idempotency\/core(\/.*)?$/, replacement: `${ROOT}libs/idempotency/src$1` },
    ],
  },
  test: {
    name: `NestJS ${NEST_MAJOR}`,
    globals: true,
    globalSetup: ['test/support/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    fileParallelism: false,
    // Vitest fails a run on any unhandled error, which Jest let pass; one is let pass here, named: mysql2's
    // "Connection lost" from a connection a test ended on purpose (the lost-connection suites), seen once in a loaded
    // run and not reproduced alone, nor in plain Node, where the store's own call receives that error.
    onUnhandledError: (error) => (error as { code?: unknown }).code !== 'PROTOCOL_CONNECTION_LOST',
  },
});

export default defineConfig({
  ...sharedConfig,
  test: {
    ...sharedConfig.test,
    include: ['libs/**/*.spec.ts', 'apps/**/*.spec.ts', 'test/**/*.spec.ts', 'test/**/*.e2e-spec.ts'],
    // One worker runs every file in turn, keeping the modules it loaded: a run takes about 415 s instead of 535 s
    // here, which is what lets npm test run the whole suite on two NestJS majors within CI's budget. Suites close
    // what they open (apps, connections, servers, global OpenTelemetry state), which this relies on; a leak shows
    // up as an error in a later file.
    isolate: false,
    exclude: ['**/node_modules/**', '**/dist/**', 'test/consumer/**'],
  },
});
