/**
 * The fixture specs that `redis-store-exit.e2e-spec.ts` runs in a Jest of their own, to see whether that Jest exits
 * by itself: Jest is what NestJS 11's starter tests with, so a Nest 11 user's e2e run is what must end. Kept out of the
 * Vitest run by their suffix (`.fixture-spec.ts`); no service probe (the parent brings the servers), and no type check
 * (the root `tsc` checks these files).
 */
module.exports = {
  moduleFileExtensions: ['js', 'json', 'ts'],
  rootDir: '../../..',
  roots: ['<rootDir>/test/stores/lifecycle'],
  testRegex: 'test/stores/lifecycle/.*\\.fixture-spec\\.ts$',
  testEnvironment: 'node',
  moduleNameMapper: { '^@nest-idempotency/core(|/.*)$': '<rootDir>/libs/idempotency/src$1' },
  // File by file (isolatedModules), without the whole program's type check, so the child starts quickly.
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/test/stores/lifecycle/tsconfig.json' }] },
};
