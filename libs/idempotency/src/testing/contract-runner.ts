/**
 * A hook or a case of the suite: always an async function, never a `done` callback, so that it fits each runner's
 * promise-returning form (Jest's types tell the two apart by the return type).
 */
export type ContractStep = () => Promise<void>;

/**
 * The test runner's functions the contract suite registers its cases with. It takes them as a parameter rather than
 * reading globals: Vitest exposes none unless `globals: true`, `node:test` never does, and a suite that guessed could
 * register with the wrong runner. Jest's and Vitest's functions fit as they are; so do `node:test`'s and Mocha's,
 * whose once-per-suite hooks are called `before` and `after`: pass the module itself (`import * as test from
 * 'node:test'`) or an object with these names.
 */
export type IdempotencyStoreContractRunner = {
  describe: (name: string, body: () => void) => unknown;
  it: (name: string, test: ContractStep) => unknown;
  beforeEach: (hook: ContractStep) => unknown;
} & (
  | { beforeAll: (hook: ContractStep) => unknown; afterAll: (hook: ContractStep) => unknown }
  | { before: (hook: ContractStep) => unknown; after: (hook: ContractStep) => unknown }
);

/** The once-per-suite hooks under either of their names. */
export function suiteHooksOf(runner: IdempotencyStoreContractRunner): {
  beforeAll: (hook: ContractStep) => unknown;
  afterAll: (hook: ContractStep) => unknown;
} {
  if ('beforeAll' in runner && typeof runner.beforeAll === 'function') {
    return { beforeAll: runner.beforeAll, afterAll: runner.afterAll };
  }
  if ('before' in runner && typeof runner.before === 'function') {
    return { beforeAll: runner.before, afterAll: runner.after };
  }
  throw new TypeError(
    'describeIdempotencyStoreContract: the runner needs beforeAll and afterAll (Jest, Vitest) or before and after ' +
      '(node:test, Mocha)',
  );
}
