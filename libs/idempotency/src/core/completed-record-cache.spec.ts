import { CompletedRecordCache, CompletedRecordCaches, completedRecordCacheKey } from './completed-record-cache';
import { MemoryIdempotencyStore } from '../stores/memory/memory-idempotency.store';

describe('CompletedRecordCache', () => {
  let now: number;
  const record = (response: string, expiresAt = now + 1_000) => ({ fingerprint: 'f', response, expiresAt });

  beforeEach(() => {
    now = 1_000_000;
  });

  it('answers a record until its expiry and never at or after it, dropping it then', () => {
    const cache = new CompletedRecordCache(10, () => now);
    cache.set('a', record('"a"', now + 500));
    now += 499;
    expect(cache.get('a')?.response).toBe('"a"');
    now += 1;
    expect(cache.get('a')).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('drops a deleted record, and deleting an absent one changes nothing', () => {
    const cache = new CompletedRecordCache(10, () => now);
    cache.set('a', record('"a"'));
    cache.set('b', record('"b"'));
    cache.delete('a');
    cache.delete('missing');
    expect(cache.get('a')).toBeUndefined();
    expect(cache.get('b')?.response).toBe('"b"');
    expect(cache.size).toBe(1);
  });

  it('does not keep a record that has already expired', () => {
    const cache = new CompletedRecordCache(10, () => now);
    cache.set('a', record('"a"', now));
    expect(cache.size).toBe(0);
  });

  it('holds at most maxEntries, pushing out the least recently used', () => {
    const cache = new CompletedRecordCache(2, () => now);
    cache.set('a', record('"a"'));
    cache.set('b', record('"b"'));
    expect(cache.get('a')).toBeDefined();
    cache.set('c', record('"c"'));
    expect(cache.size).toBe(2);
    expect(cache.get('b')).toBeUndefined();
    expect(cache.get('a')?.response).toBe('"a"');
    expect(cache.get('c')?.response).toBe('"c"');
  });

  it('replaces the entry of a key set again', () => {
    const cache = new CompletedRecordCache(2, () => now);
    cache.set('a', record('"old"'));
    cache.set('a', record('"new"'));
    expect(cache.size).toBe(1);
    expect(cache.get('a')?.response).toBe('"new"');
  });

  it('keys records by every part of the stored id, so no two ids share an entry', () => {
    const key = (namespace: string, scope: string, id: string) =>
      completedRecordCacheKey({ namespace, scope, key: id });
    expect(key('n', 'a:b', 'c')).not.toBe(key('n', 'a', 'b:c'));
    expect(key('n:a', 'b', 'c')).not.toBe(key('n', 'a:b', 'c'));
    expect(key('n', '1:a', 'b')).not.toBe(key('n', '1', 'ab'));
  });

  it('keeps one cache per store, and refuses a bound that is not a positive whole number', () => {
    const caches = new CompletedRecordCaches({ maxEntries: 5 });
    const [one, two] = [new MemoryIdempotencyStore(), new MemoryIdempotencyStore()];
    expect(caches.of(one)).toBe(caches.of(one));
    expect(caches.of(one)).not.toBe(caches.of(two));
    for (const maxEntries of [0, -1, 1.5, Number.NaN]) {
      expect(() => new CompletedRecordCaches({ maxEntries })).toThrow(
        '"localCache.maxEntries" must be a positive whole number',
      );
    }
  });
});
