/**
 * Values filed by the time they expire, in buckets `bucketMs` wide, so that expired values are found without
 * looking at live ones (a hashed timing wheel): adding and removing are O(1), and taking the expired ones
 * costs one step per bucket passed plus one per value taken. A value is handed out once its whole bucket lies
 * in the past, so at most `bucketMs` after it expired; whoever reads values must check their expiry itself.
 */
export class ExpiryWheel<T> {
  private readonly buckets = new Map<number, Set<T>>();
  /** The lowest bucket that may still hold values; Infinity when the wheel is empty. */
  private cursor = Infinity;

  constructor(private readonly bucketMs: number) {}

  /** Files `value` to expire at `expiresAt` (ms); returns its bucket, which `remove` needs. */
  add(value: T, expiresAt: number): number {
    const index = Math.ceil(expiresAt / this.bucketMs);
    let bucket = this.buckets.get(index);
    if (!bucket) {
      bucket = new Set();
      this.buckets.set(index, bucket);
    }
    bucket.add(value);
    // A clock set back (or a short TTL after a long one) files values behind the cursor: start from there.
    if (index < this.cursor) this.cursor = index;
    return index;
  }

  /** Forgets `value` filed in bucket `index`; nothing happens if it was already taken. */
  remove(value: T, index: number): void {
    const bucket = this.buckets.get(index);
    if (!bucket) return;
    bucket.delete(value);
    if (bucket.size === 0) this.buckets.delete(index);
  }

  /**
   * Takes up to `maxValues` values whose bucket ended at or before `now`, visiting at most `maxBuckets`
   * buckets, and hands each to `expire` after removing it. Both limits keep the work of one call bounded;
   * what is left is taken by the next call. Returns how many values it took.
   */
  takeExpired(now: number, maxValues: number, maxBuckets: number, expire: (value: T) => void): number {
    const lastDue = Math.floor(now / this.bucketMs);
    let taken = 0;
    for (let visited = 0; this.cursor <= lastDue && visited < maxBuckets; visited++) {
      if (this.buckets.size === 0) {
        this.cursor = Infinity;
        break;
      }
      const bucket = this.buckets.get(this.cursor);
      if (bucket) {
        for (const value of bucket) {
          if (taken === maxValues) return taken;
          bucket.delete(value);
          taken++;
          expire(value);
        }
        this.buckets.delete(this.cursor);
      }
      this.cursor++;
    }
    return taken;
  }
}
