/**
 * The fixture specs that `redis-store-exit.e2e-spec.ts` runs in a Jest of their own, to see whether that Jest
 * exits by itself. Kept out of the root run by their suffix (`.fixture-spec.ts`); no service probe (the parent
 * brings the servers), and no type check (the root `tsc` checks these files).
 */
const root = require('../../../jest.config.js');

module.exports = {
  ...root,
  rootDir: '../../..',
  roots: ['<rootDir>/test/stores/lifecycle'],
  testRegex: 'test/stores/lifecycle/.*\\.fixture-spec\\.ts$',
  globalSetup: undefined,
  // File by file (isolatedModules), without the whole program's type check, so the child starts quickly.
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/test/stores/lifecycle/tsconfig.json' }] },
};
