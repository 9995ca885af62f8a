import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { IdempotencyAcquireRequest, IdempotencyRecordId, IdempotencyStore } from '@nest-idempotency/core';
import { describeInspectAndForget } from './idempotency-store-inspection.contract';

/** An acquire request with a fresh token and generous lease and TTL, overridable per test. */
export const acquireRequest = (overrides: Partial<IdempotencyAcquireRequest> = {}): IdempotencyAcquireRequest => ({
  fingerprint: 'fp-1',
  token: randomUUID(),
  leaseMs: 10_000,
  ttlMs: 60_000,
  ...overrides,
});

/** How a contract run gets a fresh store, and how it cleans up after itself. */
export interface StoreContractSubject {
  store: IdempotencyStore;
  close?: () => Promise<void>;
}

/**
 * The `IdempotencyStore` contract, written once and run against every store on its real backend.
 * Time-based cases use real (short) durations, because Redis and SQL keep their own clocks.
 */
export function describeIdempotencyStoreContract(name: string, open: () => Promise<StoreContractSubject>): void {
  describe(`IdempotencyStore contract: ${name}`, () => {
    let subject: StoreContractSubject;
    let store: IdempotencyStore;

    beforeAll(async () => {
      subject = await open();
      store = subject.store;
    });
    afterAll(async () => {
      await subject?.close?.();
    });

    // Every test gets its own namespace, so suites can share one real server without cleaning it.
    let namespace: string;
    beforeEach(() => {
      namespace = `contract-${randomUUID()}`;
    });
    const id = (key = 'key-1', scope = 'merchant-1'): IdempotencyRecordId => ({ namespace, scope, key });
    const attempt = acquireRequest;

    it('acquires an absent key, then reports it in flight with the remaining lease', async () => {
      expect(await store.acquire(id(), attempt())).toEqual({ state: 'acquired', takenOver: false });
      const second = await store.acquire(id(), attempt());
      expect(second).toMatchObject({ state: 'in_flight', fingerprint: 'fp-1' });
      const retryAfterMs = (second as { retryAfterMs: number }).retryAfterMs;
      expect(retryAfterMs).toBeGreaterThan(8_000);
      expect(retryAfterMs).toBeLessThanOrEqual(10_000);
    });

    it('returns the stored fingerprint to a request with another one', async () => {
      await store.acquire(id(), attempt({ fingerprint: 'original' }));
      expect(await store.acquire(id(), attempt({ fingerprint: 'other' }))).toMatchObject({
        state: 'in_flight',
        fingerprint: 'original',
      });
    });

    it('completes with the owning token and returns the exact response afterwards', async () => {
      const first = attempt();
      await store.acquire(id(), first);
      const response = JSON.stringify({ status: 201, body: { text: 'zażółć 😀 "quoted" \\ back', n: 1 } });
      expect(await store.complete(id(), first.token, response, 60_000)).toBe(true);
      expect(await store.acquire(id(), attempt())).toEqual({ state: 'completed', fingerprint: 'fp-1', response });
    });

    it('keeps a large response byte for byte', async () => {
      const first = attempt();
      await store.acquire(id(), first);
      const response = JSON.stringify({ body: 'x'.repeat(200_000) });
      expect(await store.complete(id(), first.token, response, 60_000)).toBe(true);
      const replay = await store.acquire(id(), attempt());
      expect(replay.state === 'completed' && replay.response).toBe(response);
    });

    it('refuses complete and release from a token that does not own the record', async () => {
      const owner = attempt();
      await store.acquire(id(), owner);
      expect(await store.complete(id(), randomUUID(), '"stale"', 60_000)).toBe(false);
      expect(await store.release(id(), randomUUID())).toBe(false);
      expect(await store.acquire(id(), attempt())).toMatchObject({ state: 'in_flight' });
      expect(await store.complete(id(), owner.token, '"mine"', 60_000)).toBe(true);
    });

    it('releases with the owning token so the next request acquires again', async () => {
      const owner = attempt();
      await store.acquire(id(), owner);
      expect(await store.release(id(), owner.token)).toBe(true);
      expect(await store.release(id(), owner.token)).toBe(false);
      expect(await store.acquire(id(), attempt())).toEqual({ state: 'acquired', takenOver: false });
    });

    it('never completes or releases a completed record again', async () => {
      const owner = attempt();
      await store.acquire(id(), owner);
      await store.complete(id(), owner.token, '"first"', 60_000);
      expect(await store.complete(id(), owner.token, '"second"', 60_000)).toBe(false);
      expect(await store.release(id(), owner.token)).toBe(false);
      expect(await store.acquire(id(), attempt())).toMatchObject({ state: 'completed', response: '"first"' });
    });

    it('keeps namespace, scope and key apart, even when their characters could run together', async () => {
      await store.acquire({ namespace, scope: 'a:b', key: 'c' }, attempt());
      expect(await store.acquire({ namespace, scope: 'a', key: 'b:c' }, attempt())).toMatchObject({
        state: 'acquired',
      });
      expect(await store.acquire({ namespace, scope: 'a:b', key: 'c' }, attempt())).toMatchObject({
        state: 'in_flight',
      });
      expect(await store.acquire({ namespace: `${namespace}-x`, scope: 'a:b', key: 'c' }, attempt())).toMatchObject({
        state: 'acquired',
      });
      expect(await store.acquire({ namespace, scope: '', key: 'a:b:c' }, attempt())).toMatchObject({
        state: 'acquired',
      });
      expect(await store.acquire(id('k', 'merchant-2'), attempt())).toMatchObject({ state: 'acquired' });
    });

    it('compares keys and scopes byte for byte: no case folding, no trailing-space padding', async () => {
      await store.acquire(id('abc', 'merchant'), attempt());
      expect(await store.acquire(id('ABC', 'merchant'), attempt())).toMatchObject({ state: 'acquired' });
      expect(await store.acquire(id('abc', 'MERCHANT'), attempt())).toMatchObject({ state: 'acquired' });
      expect(await store.acquire(id('abc', 'merchant '), attempt())).toMatchObject({ state: 'acquired' });
      expect(await store.acquire(id('abc', 'mérchant'), attempt())).toMatchObject({ state: 'acquired' });
      expect(await store.acquire(id('abc', 'merchant'), attempt())).toMatchObject({ state: 'in_flight' });
    });

    it('accepts every visible ASCII character and 255-character keys', async () => {
      const everyVisible = Array.from({ length: 0x7e - 0x21 + 1 }, (_, i) => String.fromCharCode(0x21 + i)).join('');
      const long = 'k'.repeat(255);
      for (const key of [everyVisible, long, '{tag}', '%', "'; DROP TABLE x; --"]) {
        expect(await store.acquire(id(key), attempt())).toMatchObject({ state: 'acquired' });
        expect(await store.acquire(id(key), attempt())).toMatchObject({ state: 'in_flight' });
      }
    });

    it('gives exactly one of 100 concurrent acquires of one key the record', async () => {
      const results = await Promise.all(Array.from({ length: 100 }, () => store.acquire(id('race'), attempt())));
      expect(results.filter((result) => result.state === 'acquired')).toHaveLength(1);
      expect(results.filter((result) => result.state === 'in_flight')).toHaveLength(99);
    });

    it('lets a request with the same fingerprint take over an expired lease, and fences the old owner', async () => {
      const stale = attempt({ leaseMs: 150 });
      await store.acquire(id(), stale);
      expect(await store.acquire(id(), attempt())).toMatchObject({ state: 'in_flight' });
      await sleep(300);
      const fresh = attempt();
      expect(await store.acquire(id(), fresh)).toEqual({ state: 'acquired', takenOver: true });
      expect(await store.complete(id(), stale.token, '"stale"', 60_000)).toBe(false);
      expect(await store.release(id(), stale.token)).toBe(false);
      expect(await store.complete(id(), fresh.token, '"fresh"', 60_000)).toBe(true);
      expect(await store.acquire(id(), attempt())).toMatchObject({ state: 'completed', response: '"fresh"' });
    });

    it('lets only one of many concurrent requests take over an expired lease', async () => {
      await store.acquire(id(), attempt({ leaseMs: 100 }));
      await sleep(250);
      const results = await Promise.all(Array.from({ length: 50 }, () => store.acquire(id(), attempt())));
      expect(results.filter((result) => result.state === 'acquired')).toHaveLength(1);
    });

    it('never hands an expired lease to a request with another fingerprint', async () => {
      await store.acquire(id(), attempt({ leaseMs: 100, fingerprint: 'original' }));
      await sleep(250);
      expect(await store.acquire(id(), attempt({ fingerprint: 'other' }))).toEqual({
        state: 'in_flight',
        fingerprint: 'original',
        retryAfterMs: 0,
      });
    });

    it('treats a completed record as absent once its TTL has passed', async () => {
      const owner = attempt();
      await store.acquire(id(), owner);
      await store.complete(id(), owner.token, '"done"', 300);
      expect(await store.acquire(id(), attempt())).toMatchObject({ state: 'completed' });
      await sleep(500);
      expect(await store.acquire(id(), attempt({ fingerprint: 'another' }))).toEqual({
        state: 'acquired',
        takenOver: false,
      });
    });

    it('treats an abandoned in-flight record as absent once its TTL has passed', async () => {
      await store.acquire(id(), attempt({ leaseMs: 200, ttlMs: 300, fingerprint: 'original' }));
      await sleep(500);
      expect(await store.acquire(id(), attempt({ fingerprint: 'another' }))).toEqual({
        state: 'acquired',
        takenOver: false,
      });
    });

    it('counts the TTL of a completed record from its completion', async () => {
      const owner = attempt({ ttlMs: 400 });
      await store.acquire(id(), owner);
      await sleep(250);
      await store.complete(id(), owner.token, '"done"', 1_000);
      await sleep(300);
      expect(await store.acquire(id(), attempt())).toMatchObject({ state: 'completed' });
    });

    describeInspectAndForget(() => store);
  });
}
