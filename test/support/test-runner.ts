/**
 * The test runner's functions (Vitest's globals), as the store contract suite of `@nest-idempotency/core/testing`
 * takes them: it registers its cases with the runner it is given rather than with globals. The one place to change
 * when the suites move runner.
 */
export const testRunner = { describe, it, beforeEach, beforeAll, afterAll };
