import { Logger } from '@nestjs/common';

/** Which bound made the store evict a record. */
export type EvictionCause = 'maxEntries' | 'maxEntriesPerScope';

// Distinct scopes counted per report; past this the warning says "at least", so a flood of tenants cannot grow it.
const MAX_SCOPES_COUNTED = 1_000;

/**
 * Sums up the memory store's evictions and reports them as one warning per interval: a flood evicts a record
 * per request, and a log line for each would be a second flood.
 */
export class EvictionReport {
  private readonly logger = new Logger('MemoryIdempotencyStore');
  private readonly counts: Record<EvictionCause, number> = { maxEntries: 0, maxEntriesPerScope: 0 };
  private readonly scopes = new Set<string>();
  private since: number | undefined;

  constructor(
    private readonly intervalMs: number,
    private readonly bounds: Record<EvictionCause, number>,
  ) {}

  /** Counts one eviction from `scope` (any string identifying it) at `now`. */
  record(cause: EvictionCause, scope: string, now: number): void {
    this.since ??= now;
    this.counts[cause]++;
    if (this.scopes.size < MAX_SCOPES_COUNTED) this.scopes.add(scope);
  }

  /** Logs the warning if the interval since the first eviction it holds has passed (or `force`), and starts over. */
  flush(now: number, force = false): void {
    if (this.since === undefined || (!force && now - this.since < this.intervalMs)) return;
    const total = this.counts.maxEntries + this.counts.maxEntriesPerScope;
    const causes = (Object.keys(this.counts) as EvictionCause[])
      .filter((cause) => this.counts[cause] > 0)
      .map((cause) => `${this.counts[cause]} at ${cause}=${this.bounds[cause]}`)
      .join(', ');
    this.logger.warn(
      `Evicted ${total} completed record(s) of ${this.scopes.size < MAX_SCOPES_COUNTED ? '' : 'at least '}${this.scopes.size} scope(s) in the last ${Math.round((now - this.since) / 1000)} s ` +
        `(${causes}): a retry of those keys runs again. Size the bounds as requests per second × ttl.`,
    );
    this.counts.maxEntries = 0;
    this.counts.maxEntriesPerScope = 0;
    this.scopes.clear();
    this.since = undefined;
  }
}
