import {
  IdempotencyAcquireRequest,
  IdempotencyAcquireResult,
  IdempotencyForgetResult,
  IdempotencyRecordId,
  IdempotencyRecordSnapshot,
  IdempotencyStore,
} from '../idempotency-store';
import { EvictionCause, EvictionReport } from './eviction-report';
import { ExpiryEntry, ExpiryWheel } from './expiry-wheel';
import { RecencyEntry, RecordRecency } from './record-recency';
import { MemoryIdempotencyStoreOptions, memoryStoreBounds } from './memory-store-options';
import { declareStoreKind } from '../store-kind';

export type { MemoryIdempotencyStoreOptions } from './memory-store-options';

/** The records of one scope: how many there are, and its completed ones from least to most recently used. */
interface ScopeRecords {
  readonly key: string;
  count: number;
  readonly completed: RecordRecency<MemoryRecord>;
}

/**
 * One record, and its places in the expiry wheel and the recency lists: a single object, whose times are
 * milliseconds since the store's epoch so that they stay small integers, kept in the object itself, rather than
 * floats V8 boxes in objects of their own.
 */
interface MemoryRecord extends ExpiryEntry, RecencyEntry {
  readonly mapKey: string;
  readonly scope: ScopeRecords;
  fingerprint: string;
  token: string | null;
  leaseUntil: number;
  expiresAt: number;
  /** Set once the record is completed, which puts it in the recency lists. */
  response: string | null;
}

// Expired records are reclaimed in these steps, so no call does unbounded work: a few on every acquire and
// more on a timer, which also keeps the wheel's cursor near the present while no request comes.
const EXPIRY_BUCKET_MS = 1_000;
const RECLAIM_PER_ACQUIRE = 16;
const BUCKETS_PER_ACQUIRE = 64;
const RECLAIM_PER_TICK = 10_000;
const BUCKETS_PER_TICK = 3_600;

/**
 * A store for one process: tests, development, and single-instance apps. It implements the whole contract
 * (TTL, lease, fencing) in bounded memory, but its records die with the process and are not shared.
 *
 * Every operation is O(1): completed records sit in recency lists (the store's and their scope's), in-flight
 * ones in none, so eviction only ever finds completed records; expiry is filed in a timing wheel.
 */
export class MemoryIdempotencyStore extends IdempotencyStore {
  private readonly records = new Map<string, MemoryRecord>();
  private readonly scopes = new Map<string, ScopeRecords>();
  private readonly completed = new RecordRecency<MemoryRecord>(false);
  private readonly expiry = new ExpiryWheel<MemoryRecord>(EXPIRY_BUCKET_MS);
  private readonly evictions: EvictionReport;
  private readonly maxEntries: number;
  private readonly maxEntriesPerScope: number;
  private readonly now: () => number;
  /** The clock's reading at construction: the store keeps times relative to it (see `MemoryRecord`). */
  private readonly epoch: number;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(options: MemoryIdempotencyStoreOptions = {}) {
    super();
    const bounds = memoryStoreBounds(options);
    this.maxEntries = bounds.maxEntries;
    this.maxEntriesPerScope = bounds.maxEntriesPerScope;
    this.evictions = new EvictionReport(bounds.evictionWarningIntervalMs, bounds);
    this.now = options.now ?? Date.now;
    this.epoch = this.now();
  }

  /** How many records are held, expired ones not yet reclaimed included. */
  get size(): number {
    return this.records.size;
  }

  async acquire(id: IdempotencyRecordId, request: IdempotencyAcquireRequest): Promise<IdempotencyAcquireResult> {
    const now = this.clock();
    this.startTimer();
    this.expiry.takeExpired(now, RECLAIM_PER_ACQUIRE, BUCKETS_PER_ACQUIRE, (record) => this.remove(record));
    const mapKey = recordKey(id);
    const existing = this.live(mapKey, now);
    if (existing?.response != null) {
      // A replay is a use: the record moves away from eviction.
      this.completed.touch(existing);
      existing.scope.completed.touch(existing);
      return { state: 'completed', fingerprint: existing.fingerprint, response: existing.response };
    }
    if (existing && (existing.leaseUntil > now || existing.fingerprint !== request.fingerprint)) {
      return {
        state: 'in_flight',
        fingerprint: existing.fingerprint,
        retryAfterMs: Math.max(0, existing.leaseUntil - now),
      };
    }
    if (existing) {
      existing.token = request.token;
      existing.leaseUntil = now + request.leaseMs;
      this.expireAt(existing, now + request.ttlMs);
      return { state: 'acquired', takenOver: true };
    }
    const scope = this.scopeOf(id);
    this.makeRoom(scope, now);
    const record: MemoryRecord = {
      mapKey,
      scope,
      fingerprint: request.fingerprint,
      token: request.token,
      leaseUntil: now + request.leaseMs,
      expiresAt: 0,
      response: null,
      expiryBucket: undefined,
      expiryPrevious: undefined,
      expiryNext: undefined,
      older: undefined,
      newer: undefined,
      olderInScope: undefined,
      newerInScope: undefined,
    };
    this.expireAt(record, now + request.ttlMs);
    this.records.set(mapKey, record);
    if (scope.count++ === 0) this.scopes.set(scope.key, scope);
    return { state: 'acquired', takenOver: false };
  }

  async complete(id: IdempotencyRecordId, token: string, response: string, ttlMs: number): Promise<boolean> {
    const now = this.clock();
    const record = this.live(recordKey(id), now);
    if (!record || record.response != null || record.token !== token) return false;
    record.response = response;
    record.token = null;
    this.expireAt(record, now + ttlMs);
    this.completed.push(record);
    record.scope.completed.push(record);
    return true;
  }

  async release(id: IdempotencyRecordId, token: string): Promise<boolean> {
    const record = this.live(recordKey(id), this.clock());
    if (!record || record.response != null || record.token !== token) return false;
    this.remove(record);
    return true;
  }

  async inspect(id: IdempotencyRecordId): Promise<IdempotencyRecordSnapshot | undefined> {
    // Not a use: the record keeps its place in the recency lists.
    const record = this.live(recordKey(id), this.clock());
    if (!record) return undefined;
    const { fingerprint, response } = record;
    const expiresAt = this.epoch + record.expiresAt;
    if (response != null) return { state: 'completed', fingerprint, response, expiresAt };
    return { state: 'in_flight', fingerprint, leaseExpiresAt: this.epoch + record.leaseUntil, expiresAt };
  }

  async forget(id: IdempotencyRecordId, options: { force: boolean }): Promise<IdempotencyForgetResult> {
    const record = this.live(recordKey(id), this.clock());
    if (!record) return 'absent';
    if (record.response == null && !options.force) return 'in_flight';
    this.remove(record);
    return 'forgotten';
  }

  /** Removes every record (for tests). */
  clear(): void {
    for (const record of [...this.records.values()]) this.remove(record);
  }

  /**
   * Stops the housekeeping timer and logs the evictions not yet reported; `IdempotencyModule` calls it at shutdown.
   * The store still answers afterwards.
   */
  close(): void {
    this.closed = true;
    clearInterval(this.timer);
    this.timer = undefined;
    this.evictions.flush(this.clock(), true);
  }

  /** The record under `mapKey` unless its TTL has passed; an expired one is removed on the way. */
  private live(mapKey: string, now: number): MemoryRecord | undefined {
    const record = this.records.get(mapKey);
    if (record && record.expiresAt <= now) {
      this.remove(record);
      return undefined;
    }
    return record;
  }

  /**
   * Frees a place for a new record of `scope`, first within the scope's own bound, then within the store's,
   * by evicting the least recently used completed record. Rejects when only in-flight records are left to
   * evict: failing that request (503) is safe, letting a running request's retry run again is not.
   */
  private makeRoom(scope: ScopeRecords, now: number): void {
    if (scope.count >= this.maxEntriesPerScope) {
      const victim = scope.completed.oldest;
      if (!victim) {
        throw new Error(
          `MemoryIdempotencyStore: this scope holds maxEntriesPerScope=${this.maxEntriesPerScope} records, all in flight; ` +
            'refusing a new key rather than evicting a running request',
        );
      }
      this.evict(victim, 'maxEntriesPerScope', now);
    }
    if (this.records.size >= this.maxEntries) {
      // Before evicting a live record, give the expired ones a chance to make the room.
      this.expiry.takeExpired(now, 1, BUCKETS_PER_ACQUIRE, (record) => this.remove(record));
    }
    if (this.records.size >= this.maxEntries) {
      const victim = this.completed.oldest;
      if (!victim) {
        throw new Error(
          `MemoryIdempotencyStore: holds maxEntries=${this.maxEntries} records, all in flight; ` +
            'refusing a new key rather than evicting a running request',
        );
      }
      this.evict(victim, 'maxEntries', now);
    }
  }

  private evict(record: MemoryRecord, cause: EvictionCause, now: number): void {
    // An expired record is not an eviction anyone loses anything by.
    if (record.expiresAt > now) this.evictions.record(cause, record.scope.key, now);
    this.remove(record);
  }

  private remove(record: MemoryRecord): void {
    // Taken from the wheel already when it expired there; removing again is a no-op.
    if (this.records.get(record.mapKey) !== record) return;
    this.records.delete(record.mapKey);
    this.expiry.remove(record);
    if (record.response != null) {
      this.completed.remove(record);
      record.scope.completed.remove(record);
    }
    if (--record.scope.count === 0) this.scopes.delete(record.scope.key);
  }

  private expireAt(record: MemoryRecord, expiresAt: number): void {
    record.expiresAt = expiresAt;
    this.expiry.add(record, expiresAt);
  }

  private scopeOf(id: IdempotencyRecordId): ScopeRecords {
    // Length-prefixed, so no namespace and scope run into one another whatever characters they hold.
    const key = `${id.namespace.length}:${id.namespace}${id.scope}`;
    return this.scopes.get(key) ?? { key, count: 0, completed: new RecordRecency(true) };
  }

  /** Milliseconds since the epoch: a small integer for the first 24 days of a process (V8's 31-bit integers). */
  private clock(): number {
    return this.now() - this.epoch;
  }

  /** Reclaims expired records while no request comes and reports evictions; unref'd, so it never keeps a process alive. */
  private startTimer(): void {
    if (this.timer || this.closed) return;
    this.timer = setInterval(() => {
      const now = this.clock();
      this.expiry.takeExpired(now, RECLAIM_PER_TICK, BUCKETS_PER_TICK, (record) => this.remove(record));
      this.evictions.flush(now);
    }, EXPIRY_BUCKET_MS);
    this.timer.unref();
  }
}

function recordKey(id: IdempotencyRecordId): string {
  // Length prefixes make the encoding unambiguous whatever characters the parts contain (scope "a:b" with key
  // "c" never meets scope "a" with key "b:c"), and cost one string concatenation, not a JSON encoding.
  return `${id.namespace.length}:${id.namespace}${id.scope.length}:${id.scope}${id.key}`;
}

declareStoreKind(MemoryIdempotencyStore, 'memory');
