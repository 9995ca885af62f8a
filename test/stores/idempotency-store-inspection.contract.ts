import { createHash, randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { IdempotencyRecordId, IdempotencyStore } from '@nest-idempotency/core';
import { acquireRequest as attempt } from './idempotency-store.contract';

// Stores keep their own clocks (Redis's, the database's); on this machine they agree with ours within this much.
const CLOCK_SLACK_MS = 1_000;

/**
 * The optional `inspect` and `forget` of the store contract, run by `describeIdempotencyStoreContract` against every
 * store on its real backend.
 */
export function describeInspectAndForget(storeOf: () => IdempotencyStore): void {
  describe('inspect and forget', () => {
    let store: IdempotencyStore & Required<Pick<IdempotencyStore, 'inspect' | 'forget'>>;
    let namespace: string;
    beforeEach(() => {
      store = storeOf() as typeof store;
      namespace = `inspect-${randomUUID()}`;
    });
    const id = (key = 'key-1', scope = 'merchant-1'): IdempotencyRecordId => ({ namespace, scope, key });

    /** A completed record under `recordId` with `response`. */
    const completed = async (recordId: IdempotencyRecordId, response = '"done"', ttlMs = 60_000) => {
      const owner = attempt();
      expect(await store.acquire(recordId, owner)).toMatchObject({ state: 'acquired' });
      expect(await store.complete(recordId, owner.token, response, ttlMs)).toBe(true);
    };

    it('implements both', () => {
      expect(typeof store.inspect).toBe('function');
      expect(typeof store.forget).toBe('function');
    });

    it('finds nothing under an absent key', async () => {
      expect(await store.inspect(id())).toBeUndefined();
      expect(await store.forget(id(), { force: false })).toBe('absent');
      expect(await store.forget(id(), { force: true })).toBe('absent');
    });

    it('shows an in-flight record with its lease, its expiry and the fingerprint acquire would return', async () => {
      // A SHA-256 hex, which the Redis store keeps as binary: inspect must decode it as acquire does.
      const fingerprint = createHash('sha256').update(randomUUID()).digest('hex');
      const before = Date.now();
      await store.acquire(id(), attempt({ fingerprint, leaseMs: 10_000, ttlMs: 60_000 }));
      const snapshot = await store.inspect(id());
      expect(snapshot).toEqual({
        state: 'in_flight',
        fingerprint,
        leaseExpiresAt: expect.any(Number),
        expiresAt: expect.any(Number),
      });
      const { leaseExpiresAt, expiresAt } = snapshot as { leaseExpiresAt: number; expiresAt: number };
      expect(leaseExpiresAt).toBeGreaterThanOrEqual(before + 10_000 - CLOCK_SLACK_MS);
      expect(leaseExpiresAt).toBeLessThanOrEqual(Date.now() + 10_000 + CLOCK_SLACK_MS);
      expect(expiresAt).toBeGreaterThanOrEqual(before + 60_000 - CLOCK_SLACK_MS);
      expect(expiresAt).toBeLessThanOrEqual(Date.now() + 60_000 + CLOCK_SLACK_MS);
      // A read: the record is as it was.
      expect(await store.acquire(id(), attempt({ fingerprint }))).toMatchObject({ state: 'in_flight', fingerprint });
    });

    it('shows a completed record with the response byte for byte', async () => {
      const response = JSON.stringify({ status: 201, body: { text: 'zażółć 😀 "quoted" \\ back', n: 1 } });
      const before = Date.now();
      await completed(id(), response, 60_000);
      const snapshot = await store.inspect(id());
      expect(snapshot).toEqual({ state: 'completed', fingerprint: 'fp-1', response, expiresAt: expect.any(Number) });
      const { expiresAt } = snapshot as { expiresAt: number };
      expect(expiresAt).toBeGreaterThanOrEqual(before + 60_000 - CLOCK_SLACK_MS);
      expect(expiresAt).toBeLessThanOrEqual(Date.now() + 60_000 + CLOCK_SLACK_MS);
      expect(await store.acquire(id(), attempt())).toEqual({ state: 'completed', fingerprint: 'fp-1', response });
    });

    it('counts an expired record as absent', async () => {
      await completed(id(), '"done"', 300);
      await store.acquire(id('in-flight'), attempt({ leaseMs: 200, ttlMs: 300 }));
      await sleep(500);
      expect(await store.inspect(id())).toBeUndefined();
      expect(await store.inspect(id('in-flight'))).toBeUndefined();
      expect(await store.forget(id(), { force: false })).toBe('absent');
      expect(await store.forget(id('in-flight'), { force: true })).toBe('absent');
    });

    it('forgets a completed record, so the next request with its key runs again', async () => {
      await completed(id());
      expect(await store.forget(id(), { force: false })).toBe('forgotten');
      expect(await store.inspect(id())).toBeUndefined();
      expect(await store.forget(id(), { force: false })).toBe('absent');
      expect(await store.acquire(id(), attempt({ fingerprint: 'another' }))).toEqual({
        state: 'acquired',
        takenOver: false,
      });
    });

    it('leaves an in-flight record alone without force, and its holder completes it', async () => {
      const holder = attempt();
      await store.acquire(id(), holder);
      expect(await store.forget(id(), { force: false })).toBe('in_flight');
      expect(await store.inspect(id())).toMatchObject({ state: 'in_flight' });
      expect(await store.complete(id(), holder.token, '"held"', 60_000)).toBe(true);
      expect(await store.inspect(id())).toMatchObject({ state: 'completed', response: '"held"' });
    });

    it('forgets an in-flight record with force, and fences its old holder out', async () => {
      const holder = attempt();
      await store.acquire(id(), holder);
      expect(await store.forget(id(), { force: true })).toBe('forgotten');
      expect(await store.inspect(id())).toBeUndefined();
      expect(await store.complete(id(), holder.token, '"stale"', 60_000)).toBe(false);
      expect(await store.release(id(), holder.token)).toBe(false);
      const next = attempt();
      expect(await store.acquire(id(), next)).toEqual({ state: 'acquired', takenOver: false });
      expect(await store.complete(id(), holder.token, '"stale"', 60_000)).toBe(false);
      expect(await store.complete(id(), next.token, '"next"', 60_000)).toBe(true);
    });

    it('keeps keys that differ only in case, and scopes, apart', async () => {
      await completed(id('abc'), '"lower"');
      await completed(id('ABC'), '"upper"');
      await completed(id('abc', 'merchant-2'), '"other merchant"');
      expect(await store.forget(id('abc'), { force: false })).toBe('forgotten');
      expect(await store.inspect(id('abc'))).toBeUndefined();
      expect(await store.inspect(id('ABC'))).toMatchObject({ state: 'completed', response: '"upper"' });
      expect(await store.inspect(id('abc', 'merchant-2'))).toMatchObject({ response: '"other merchant"' });
      expect(await store.inspect(id('abc', 'MERCHANT-1'))).toBeUndefined();
      expect(await store.forget(id('abc', 'MERCHANT-1'), { force: true })).toBe('absent');
      expect(await store.inspect({ namespace: `${namespace}-x`, scope: 'merchant-1', key: 'ABC' })).toBeUndefined();
    });

    it('gives exactly one of many concurrent forgets of one record the deletion', async () => {
      await completed(id('race'));
      const results = await Promise.all(Array.from({ length: 20 }, () => store.forget(id('race'), { force: false })));
      expect(results.filter((result) => result === 'forgotten')).toHaveLength(1);
      expect(results.filter((result) => result === 'absent')).toHaveLength(19);
    });

    it('gives exactly one of many concurrent forced forgets of an in-flight record the deletion', async () => {
      await store.acquire(id('race'), attempt());
      const results = await Promise.all(Array.from({ length: 20 }, () => store.forget(id('race'), { force: true })));
      expect(results.filter((result) => result === 'forgotten')).toHaveLength(1);
      expect(results.filter((result) => result === 'absent')).toHaveLength(19);
    });
  });
}
