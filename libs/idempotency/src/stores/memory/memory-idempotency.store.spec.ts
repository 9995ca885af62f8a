import type { MockInstance } from 'vitest';
import { Logger } from '@nestjs/common';
import { IdempotencyRecordId } from '../idempotency-store';
import { MemoryIdempotencyStore, MemoryIdempotencyStoreOptions } from './memory-idempotency.store';

// The store's clock is its `now` option here; only its timers are faked.
const TIMERS_BUT_NOT_DATE = ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval'] as const;

describe('MemoryIdempotencyStore bounds', () => {
  const id = (key: string, scope = 's'): IdempotencyRecordId => ({ namespace: 'n', scope, key });
  const attempt = (ttlMs = 60_000, token = 't') => ({ fingerprint: 'f', token, leaseMs: 30_000, ttlMs });
  let now: number;
  let stores: MemoryIdempotencyStore[];
  let warn: MockInstance;
  const open = (options: MemoryIdempotencyStoreOptions) => {
    const store = new MemoryIdempotencyStore({ now: () => now, ...options });
    stores.push(store);
    return store;
  };
  const completeNew = async (store: MemoryIdempotencyStore, key: string, scope = 's', ttlMs = 60_000) => {
    expect(await store.acquire(id(key, scope), attempt(ttlMs))).toMatchObject({ state: 'acquired' });
    expect(await store.complete(id(key, scope), 't', `"${key}"`, ttlMs)).toBe(true);
  };
  const stateOf = async (store: MemoryIdempotencyStore, key: string, scope = 's') =>
    (await store.acquire(id(key, scope), attempt(60_000, 'probe'))).state;

  beforeEach(() => {
    now = 1_000_000;
    stores = [];
    warn = vi.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
  });
  afterEach(() => {
    for (const store of stores) store.close();
    vi.restoreAllMocks();
    vi.useRealTimers();
  });

  it('never evicts an in-flight record: full of them, it rejects the new key and keeps every one', async () => {
    const store = open({ maxEntries: 10, maxEntriesPerScope: 10 });
    for (let i = 0; i < 10; i++) await store.acquire(id(`k-${i}`), attempt());
    await expect(store.acquire(id('one-more'), attempt())).rejects.toThrow(
      'holds maxEntriesPerScope=10 records, all in flight; refusing a new key rather than evicting a running request',
    );
    for (let i = 0; i < 10; i++) expect(await stateOf(store, `k-${i}`)).toBe('in_flight');
    expect(store.size).toBe(10);
  });

  it('rejects at the global bound when every scope holds only in-flight records', async () => {
    const store = open({ maxEntries: 4, maxEntriesPerScope: 2 });
    for (const scope of ['a', 'b']) for (const key of ['1', '2']) await store.acquire(id(key, scope), attempt());
    await expect(store.acquire(id('1', 'c'), attempt())).rejects.toThrow('holds maxEntries=4 records, all in flight');
    expect(await stateOf(store, '1', 'a')).toBe('in_flight');
  });

  it('evicts a completed record rather than an older in-flight one', async () => {
    const store = open({ maxEntries: 3, maxEntriesPerScope: 3 });
    await store.acquire(id('running'), attempt());
    await completeNew(store, 'done-1');
    await completeNew(store, 'done-2');
    await store.acquire(id('new'), attempt());
    expect(await stateOf(store, 'running')).toBe('in_flight');
    expect(await stateOf(store, 'done-2')).toBe('completed');
    expect(store.size).toBe(3);
  });

  it('evicts completed records least recently used first, a replay counting as a use', async () => {
    const store = open({ maxEntries: 3, maxEntriesPerScope: 3 });
    await completeNew(store, 'a');
    await completeNew(store, 'b');
    await completeNew(store, 'c');
    expect(await stateOf(store, 'a')).toBe('completed'); // a is now the most recently used
    await completeNew(store, 'd'); // evicts b
    await completeNew(store, 'e'); // evicts c
    expect(await stateOf(store, 'a')).toBe('completed');
    expect(await stateOf(store, 'd')).toBe('completed');
    expect(await stateOf(store, 'e')).toBe('completed');
    expect(store.size).toBe(3);
    // Probing an evicted key acquires it afresh (and so evicts the next one in line).
    expect(await stateOf(store, 'b')).toBe('acquired');
  });

  it("keeps one tenant's flood within its share: another tenant's completed and in-flight records survive", async () => {
    const store = open({ maxEntries: 100, maxEntriesPerScope: 10 });
    await completeNew(store, 'paid', 'tenant-b');
    await store.acquire(id('running', 'tenant-b'), attempt());
    for (let i = 0; i < 1_000; i++) await completeNew(store, `flood-${i}`, 'tenant-a');
    expect(store.size).toBe(12);
    expect(await store.acquire(id('paid', 'tenant-b'), attempt())).toEqual({
      state: 'completed',
      fingerprint: 'f',
      response: '"paid"',
    });
    expect(await stateOf(store, 'running', 'tenant-b')).toBe('in_flight');
    expect(await stateOf(store, 'flood-999', 'tenant-a')).toBe('completed');
    expect(await stateOf(store, 'flood-0', 'tenant-a')).toBe('acquired');
  });

  it('refuses a tenant whose share is full of its own in-flight records, and still serves the others', async () => {
    const store = open({ maxEntries: 100, maxEntriesPerScope: 3 });
    await completeNew(store, 'paid', 'tenant-b');
    for (let i = 0; i < 3; i++) await store.acquire(id(`held-${i}`, 'tenant-a'), attempt());
    await expect(store.acquire(id('one-more', 'tenant-a'), attempt())).rejects.toThrow('maxEntriesPerScope=3');
    expect(await stateOf(store, 'paid', 'tenant-b')).toBe('completed');
    expect(await stateOf(store, 'new', 'tenant-b')).toBe('acquired');
  });

  it('counts an expired record as absent at once, and frees its place for new keys', async () => {
    const store = open({ maxEntries: 2, maxEntriesPerScope: 2 });
    await store.acquire(id('abandoned-1'), attempt(500));
    await store.acquire(id('abandoned-2'), attempt(500));
    await expect(store.acquire(id('third'), attempt())).rejects.toThrow('all in flight');
    now += 500;
    expect(await store.acquire(id('abandoned-1'), { ...attempt(), fingerprint: 'other' })).toEqual({
      state: 'acquired',
      takenOver: false,
    });
    // The expired in-flight record is reclaimed once its expiry second has passed.
    now += 1_000;
    expect(await stateOf(store, 'third')).toBe('acquired');
    expect(store.size).toBe(2);
  });

  it('reclaims a mass expiry a bounded number at a time per call, and the rest on its timer', async () => {
    vi.useFakeTimers({ toFake: [...TIMERS_BUT_NOT_DATE] });
    const store = open({ maxEntries: 20_000, maxEntriesPerScope: 20_000 });
    for (let i = 0; i < 10_000; i++) await store.acquire(id(`old-${i}`), attempt(100));
    now += 2_000;
    await store.acquire(id('new'), attempt());
    expect(store.size).toBeGreaterThan(9_900);
    vi.advanceTimersByTime(1_000);
    expect(store.size).toBe(1);
  });

  it('reports evictions as one aggregated warning per interval, naming the count and the scopes', async () => {
    vi.useFakeTimers({ toFake: [...TIMERS_BUT_NOT_DATE] });
    const store = open({ maxEntries: 100, maxEntriesPerScope: 5, evictionWarningIntervalMs: 60_000 });
    for (const scope of ['tenant-a', 'tenant-b'])
      for (let i = 0; i < 55; i++) await completeNew(store, `k-${i}`, scope, 3_600_000);
    now += 30_000;
    vi.advanceTimersByTime(30_000);
    expect(warn).not.toHaveBeenCalled();
    now += 30_000;
    vi.advanceTimersByTime(30_000);
    expect(warn).toHaveBeenCalledTimes(1);
    expect(warn.mock.calls[0][0]).toMatch(
      /^Evicted 100 completed record\(s\) of 2 scope\(s\) in the last 60 s \(100 at maxEntriesPerScope=5\)/,
    );
    now += 120_000;
    vi.advanceTimersByTime(120_000);
    expect(warn).toHaveBeenCalledTimes(1);
    await completeNew(store, 'late', 'tenant-a', 3_600_000);
    store.close();
    expect(warn).toHaveBeenCalledTimes(2);
    expect(warn.mock.calls[1][0]).toMatch(/^Evicted 1 completed record\(s\) of 1 scope\(s\)/);
  });

  it('stops its timer on close, so nothing runs after the module is destroyed', async () => {
    vi.useFakeTimers({ toFake: [...TIMERS_BUT_NOT_DATE] });
    const store = open({});
    await store.acquire(id('k'), attempt());
    expect(vi.getTimerCount()).toBe(1);
    store.close();
    expect(vi.getTimerCount()).toBe(0);
  });

  it('refuses bounds that are not positive integers, or a share above the whole', () => {
    expect(() => new MemoryIdempotencyStore({ maxEntries: 0 })).toThrow('maxEntries must be a positive integer');
    expect(() => new MemoryIdempotencyStore({ maxEntriesPerScope: 1.5 })).toThrow(
      'maxEntriesPerScope must be a positive integer',
    );
    expect(() => new MemoryIdempotencyStore({ maxEntries: 10, maxEntriesPerScope: 11 })).toThrow(
      'maxEntriesPerScope (11) must not exceed maxEntries (10)',
    );
  });
});
