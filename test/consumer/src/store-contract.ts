/*
 * The store contract suite as a store author imports it (`@nest-idempotency/core/testing`), under both module
 * resolutions, run against the memory store with node:test. The fixture has no test runner of its own: node:test's
 * functions fit the suite's runner parameter as the module exports them (before and after for beforeAll and afterAll),
 * which shows the suite needs neither Jest nor Vitest. run.sh runs this file with plain `node`; node:test prints each
 * case and sets a failing exit code when one fails.
 */
import * as nodeTest from 'node:test';
import { MemoryIdempotencyStore } from '@nest-idempotency/core';
import { describeIdempotencyStoreContract } from '@nest-idempotency/core/testing';

describeIdempotencyStoreContract(
  'memory, from the packed package',
  {
    open: () => {
      const store = new MemoryIdempotencyStore();
      return { store, close: () => store.close() };
    },
  },
  nodeTest,
);
