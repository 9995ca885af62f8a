/**
 * `npm run test:faults`: the fault-injection suites, kept out of `npm test` by their file suffix (`.faults-spec.ts`,
 * which the root config's `.spec.ts` / `.e2e-spec.ts` patterns do not match). Same transform, path mapping and service
 * probe as the root config.
 */
import { defineConfig } from 'vitest/config';
import { sharedConfig } from '../../vitest.config.mjs';

export default defineConfig({
  ...sharedConfig,
  test: {
    ...sharedConfig.test,
    include: ['test/faults/**/*.faults-spec.ts'],
    // Each scenario bounds itself well below this; the figure only stops a run that hangs anyway.
    testTimeout: 180_000,
    hookTimeout: 180_000,
  },
});
