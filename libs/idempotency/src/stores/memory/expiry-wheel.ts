/**
 * What the wheel keeps on each value it holds: the value is its own list node, so filing and removing
 * allocate nothing. Only one wheel may hold a value at a time.
 */
export interface ExpiryEntry {
  /** The bucket the value is filed in; undefined while no wheel holds it. */
  expiryBucket: number | undefined;
  expiryPrevious: this | undefined;
  expiryNext: this | undefined;
}

/** One bucket: the first of its values, linked through their own `expiryNext`. */
interface Bucket<T> {
  first: T | undefined;
}

/**
 * Values filed by the time they expire, in buckets `bucketMs` wide, so that expired values are found without
 * looking at live ones (a hashed timing wheel). Each bucket is a doubly linked list threaded through the values
 * themselves: adding, removing and taking the first value are O(1), and a bucket emptied a few values at a time
 * never has to step over the ones already taken (as a `Set` iterated from its start would, over its deleted
 * slots). Taking the expired values costs one step per bucket passed plus one per value taken. A value is
 * handed out once its whole bucket lies in the past, so at most `bucketMs` after it expired; whoever reads
 * values must check their expiry itself.
 */
export class ExpiryWheel<T extends ExpiryEntry> {
  private readonly buckets = new Map<number, Bucket<T>>();
  /** The lowest bucket that may still hold values; Infinity when the wheel is empty. */
  private cursor = Infinity;

  constructor(private readonly bucketMs: number) {}

  /** Files `value` to expire at `expiresAt` (ms), first taking it out of the bucket it was in, if any. */
  add(value: T, expiresAt: number): void {
    const index = Math.ceil(expiresAt / this.bucketMs);
    if (value.expiryBucket === index) return;
    this.remove(value);
    let bucket = this.buckets.get(index);
    if (!bucket) {
      bucket = { first: undefined };
      this.buckets.set(index, bucket);
    }
    value.expiryBucket = index;
    value.expiryPrevious = undefined;
    value.expiryNext = bucket.first;
    if (bucket.first) bucket.first.expiryPrevious = value;
    bucket.first = value;
    // A clock set back (or a short TTL after a long one) files values behind the cursor: start from there.
    if (index < this.cursor) this.cursor = index;
  }

  /** Takes `value` out of the wheel; nothing happens if the wheel does not hold it. */
  remove(value: T): void {
    const index = value.expiryBucket;
    if (index === undefined) return;
    const bucket = this.buckets.get(index)!;
    if (value.expiryPrevious) value.expiryPrevious.expiryNext = value.expiryNext;
    else bucket.first = value.expiryNext;
    if (value.expiryNext) value.expiryNext.expiryPrevious = value.expiryPrevious;
    value.expiryBucket = undefined;
    value.expiryPrevious = undefined;
    value.expiryNext = undefined;
    if (!bucket.first) this.buckets.delete(index);
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
      while (bucket?.first) {
        if (taken === maxValues) return taken;
        const value = bucket.first;
        this.remove(value);
        taken++;
        expire(value);
      }
      this.cursor++;
    }
    return taken;
  }
}
