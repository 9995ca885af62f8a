import { IdempotencyRecordId, IdempotencyStore } from '../stores/idempotency-store';
import { RecencyList, RecencyNode } from '../stores/memory/recency-list';
import { IdempotencyLocalCacheOptions } from '../options/stored-record-options';

/** A completed record as the store would answer it, and when the cached copy stops counting. */
export interface CompletedRecord {
  fingerprint: string;
  /** Exactly the string given to the store's `complete`. */
  response: string;
  /** Epoch ms; never later than the record's own expiry, so the cache never answers for a record that is gone. */
  expiresAt: number;
}

interface CacheEntry extends CompletedRecord {
  readonly key: string;
  node: RecencyNode<CacheEntry> | undefined;
}

/**
 * Completed records this process saw complete, so a replay is answered without a store round trip. Only
 * completed records are kept: they never change until they expire (a completed record is neither taken over
 * nor released), so a cached copy that expires with the record says what the store would say. Bounded: at
 * most `maxEntries`, least recently used first out, every operation O(1).
 */
export class CompletedRecordCache {
  private readonly entries = new Map<string, CacheEntry>();
  private readonly recency = new RecencyList<CacheEntry>();

  constructor(
    private readonly maxEntries: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** How many entries are held, expired ones not yet dropped included. */
  get size(): number {
    return this.entries.size;
  }

  /** The record under `key` unless its copy has expired; an expired one is dropped on the way. */
  get(key: string): CompletedRecord | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt <= this.now()) {
      this.drop(entry);
      return undefined;
    }
    this.recency.touch(entry.node!);
    return entry;
  }

  /** Keeps `record` under `key`, pushing out the least recently used entry when full. */
  set(key: string, record: CompletedRecord): void {
    const existing = this.entries.get(key);
    if (existing) this.drop(existing);
    if (record.expiresAt <= this.now()) return;
    if (this.entries.size >= this.maxEntries) this.drop(this.recency.oldest!);
    const entry: CacheEntry = {
      key,
      fingerprint: record.fingerprint,
      response: record.response,
      expiresAt: record.expiresAt,
      node: undefined,
    };
    entry.node = this.recency.push(entry);
    this.entries.set(key, entry);
  }

  /** Forgets the record under `key`, if held: it was deleted from the store, and must not be replayed from here. */
  delete(key: string): void {
    const entry = this.entries.get(key);
    if (entry) this.drop(entry);
  }

  private drop(entry: CacheEntry): void {
    this.entries.delete(entry.key);
    this.recency.remove(entry.node!);
    entry.node = undefined;
  }
}

/**
 * One cache per store: two routes on two stores may use the same (namespace, scope, key) for two records.
 * Held weakly, so a store dropped by its owner takes its cache with it.
 */
export class CompletedRecordCaches {
  private readonly caches = new WeakMap<IdempotencyStore, CompletedRecordCache>();
  private readonly maxEntries: number;

  constructor(options: IdempotencyLocalCacheOptions) {
    this.maxEntries = options.maxEntries;
    if (!Number.isSafeInteger(this.maxEntries) || this.maxEntries <= 0) {
      throw new Error(
        `Idempotency option "localCache.maxEntries" must be a positive whole number, got ${options.maxEntries}`,
      );
    }
  }

  /** The cache of `store`, made on first use. */
  of(store: IdempotencyStore): CompletedRecordCache {
    let cache = this.caches.get(store);
    if (!cache) {
      cache = new CompletedRecordCache(this.maxEntries);
      this.caches.set(store, cache);
    }
    return cache;
  }
}

/**
 * The cache key of a record: its stored id (namespace, stored scope, key), so two tenants never share an entry.
 * Length prefixes keep the parts from running into one another whatever characters they hold.
 */
export function completedRecordCacheKey(id: IdempotencyRecordId): string {
  return `${id.namespace.length}:${id.namespace}${id.scope.length}:${id.scope}${id.key}`;
}
