/** Options of the in-process store. */
export interface MemoryIdempotencyStoreOptions {
  /**
   * Most records held at once (default 100,000); size it as requests per second × ttl. When full, the least
   * recently used completed record goes. In-flight records are never evicted: when every record is a live
   * in-flight one, `acquire` rejects (the library answers 503).
   */
  maxEntries?: number;
  /**
   * Most records one scope (one tenant, under the default scope) may hold; default a tenth of `maxEntries`.
   * A scope at its bound loses its own least recently used completed record, so one tenant's flood cannot
   * push out another's records; a scope full of its own in-flight records is refused.
   */
  maxEntriesPerScope?: number;
  /** Evictions are summed up in one warning per this many milliseconds (default 60,000). */
  evictionWarningIntervalMs?: number;
  /** Clock, for tests that move time; defaults to `Date.now`. */
  now?: () => number;
}

/** The store's bounds, defaults filled in and checked. */
export function memoryStoreBounds(options: MemoryIdempotencyStoreOptions): {
  maxEntries: number;
  maxEntriesPerScope: number;
  evictionWarningIntervalMs: number;
} {
  const maxEntries = options.maxEntries ?? 100_000;
  assertPositiveInteger('maxEntries', maxEntries);
  const maxEntriesPerScope = options.maxEntriesPerScope ?? Math.max(1, Math.floor(maxEntries / 10));
  assertPositiveInteger('maxEntriesPerScope', maxEntriesPerScope);
  if (maxEntriesPerScope > maxEntries) {
    throw new Error(
      `MemoryIdempotencyStore: maxEntriesPerScope (${maxEntriesPerScope}) must not exceed maxEntries (${maxEntries})`,
    );
  }
  const evictionWarningIntervalMs = options.evictionWarningIntervalMs ?? 60_000;
  assertPositiveInteger('evictionWarningIntervalMs', evictionWarningIntervalMs);
  return { maxEntries, maxEntriesPerScope, evictionWarningIntervalMs };
}

function assertPositiveInteger(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new Error(`MemoryIdempotencyStore: ${name} must be a positive integer, got ${value}`);
  }
}
