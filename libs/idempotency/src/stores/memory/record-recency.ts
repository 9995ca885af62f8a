/**
 * The links a record keeps for the two recency lists it is in once completed: the store's and its scope's. The
 * record is its own list node, so a completed record is one object on the heap, not three: every major garbage
 * collection marks each object a full store holds, so objects per record are what a full store costs per request.
 */
export interface RecencyEntry {
  older: this | undefined;
  newer: this | undefined;
  olderInScope: this | undefined;
  newerInScope: this | undefined;
}

/**
 * Values from least to most recently used, as a doubly linked list threaded through the values themselves:
 * adding, touching, removing and finding the least recently used are all O(1) and allocate nothing. `inScope`
 * says which of the value's two pairs of links this list uses, so a value can be in one list of each kind.
 */
export class RecordRecency<T extends RecencyEntry> {
  private oldestValue: T | undefined;
  private newestValue: T | undefined;
  private count = 0;

  constructor(private readonly inScope: boolean) {}

  /** How many values the list holds. */
  get size(): number {
    return this.count;
  }

  /** The least recently used value, if any. */
  get oldest(): T | undefined {
    return this.oldestValue;
  }

  /** Adds `value`, which must not be in a list of this kind, as the most recently used. */
  push(value: T): void {
    this.append(value);
    this.count++;
  }

  /** Marks `value`, one of this list's, as the most recently used. */
  touch(value: T): void {
    if (value === this.newestValue) return;
    this.unlink(value);
    this.append(value);
  }

  /** Takes `value`, one of this list's, out of it. */
  remove(value: T): void {
    this.unlink(value);
    this.count--;
  }

  private append(value: T): void {
    const newest = this.newestValue;
    if (this.inScope) {
      value.olderInScope = newest;
      value.newerInScope = undefined;
      if (newest) newest.newerInScope = value;
    } else {
      value.older = newest;
      value.newer = undefined;
      if (newest) newest.newer = value;
    }
    if (!newest) this.oldestValue = value;
    this.newestValue = value;
  }

  private unlink(value: T): void {
    const older = this.inScope ? value.olderInScope : value.older;
    const newer = this.inScope ? value.newerInScope : value.newer;
    if (older) {
      if (this.inScope) older.newerInScope = newer;
      else older.newer = newer;
    } else this.oldestValue = newer;
    if (newer) {
      if (this.inScope) newer.olderInScope = older;
      else newer.older = older;
    } else this.newestValue = older;
    if (this.inScope) value.olderInScope = value.newerInScope = undefined;
    else value.older = value.newer = undefined;
  }
}
