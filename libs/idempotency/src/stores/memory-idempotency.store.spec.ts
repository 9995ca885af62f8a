import { MemoryIdempotencyStore } from './memory-idempotency.store';

describe('MemoryIdempotencyStore bounds', () => {
  const id = (key: string) => ({ namespace: 'n', scope: 's', key });
  const attempt = (ttlMs = 1_000) => ({ fingerprint: 'f', token: 't', leaseMs: 500, ttlMs });

  it('evicts expired records as new ones arrive, so memory does not grow with dead keys', async () => {
    let now = 0;
    const store = new MemoryIdempotencyStore({ now: () => now });
    for (let i = 0; i < 1_000; i++) await store.acquire(id(`old-${i}`), attempt(100));
    now = 200;
    await store.acquire(id('new'), attempt());
    expect(store.size).toBe(1);
  });

  it('never holds more than maxEntries, evicting the oldest first', async () => {
    const store = new MemoryIdempotencyStore({ maxEntries: 10 });
    for (let i = 0; i < 25; i++) await store.acquire(id(`k-${i}`), attempt());
    expect(store.size).toBe(10);
    expect(await store.acquire(id('k-24'), attempt())).toMatchObject({ state: 'in_flight' });
    expect(await store.acquire(id('k-0'), attempt())).toMatchObject({ state: 'acquired', takenOver: false });
  });

  it('refuses a maxEntries that is not a positive integer', () => {
    expect(() => new MemoryIdempotencyStore({ maxEntries: 0 })).toThrow('maxEntries must be a positive integer');
  });
});
