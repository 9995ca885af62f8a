// Entry point `@nest-idempotency/core/testing`: the store contract suite, for a store written outside this package to
// prove itself with, exactly as the package's own stores do. It registers its cases with the test runner it is given
// (Jest, Vitest, node:test, Mocha) and asserts with node:assert, so it loads no runner, and no Nest code, itself.

/** Registers the whole contract (and, unless the store leaves them out, `inspect()` and `forget()`) as one suite. */
export { describeIdempotencyStoreContract } from './testing/describe-idempotency-store-contract';
/** The store under test, what it supports, and the runner's functions the suite registers its cases with. */
export type { IdempotencyStoreContractOptions, IdempotencyStoreContractSubject } from './testing/contract-options';
export type { ContractStep, IdempotencyStoreContractRunner } from './testing/contract-runner';
/** An acquire request with a fresh token and generous lease and TTL, for a store's own further tests. */
export { acquireRequest } from './testing/acquire-request';
