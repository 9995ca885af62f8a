import { randomUUID } from 'node:crypto';
import type { IdempotencyAcquireRequest } from '../index';

/** An acquire request with a fresh token, fingerprint `fp-1`, a 10 s lease and a 60 s TTL, overridable per test. */
export const acquireRequest = (overrides: Partial<IdempotencyAcquireRequest> = {}): IdempotencyAcquireRequest => ({
  fingerprint: 'fp-1',
  token: randomUUID(),
  leaseMs: 10_000,
  ttlMs: 60_000,
  ...overrides,
});
