/**
 * `npm run test:faults`: the fault-injection suites, kept out of `npm test` by their file suffix
 * (`.faults-spec.ts`, which the root config's `.spec.ts` / `.e2e-spec.ts` pattern does not match). Same
 * TypeScript transform, path mapping and service probe as the root config.
 */
const root = require('../../jest.config.js');

module.exports = {
  ...root,
  rootDir: '../..',
  roots: ['<rootDir>/test/faults'],
  testRegex: 'test/faults/.*\\.faults-spec\\.ts$',
  // Each scenario bounds itself well below this; the figure only stops a run that hangs anyway.
  testTimeout: 180_000,
};
