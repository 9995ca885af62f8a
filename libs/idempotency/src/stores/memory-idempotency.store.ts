import { Logger } from '@nestjs/common';
import {
  IdempotencyAcquireRequest,
  IdempotencyAcquireResult,
  IdempotencyRecordId,
  IdempotencyStore,
} from './idempotency-store';

/** Options of the in-process store. */
export interface MemoryIdempotencyStoreOptions {
  /**
   * Most records kept at once (default 100,000). When full, expired records go first, then the oldest;
   * evicting a live record weakens its guarantee, so the eviction is logged. Size it as rate × ttl.
   */
  maxEntries?: number;
  /** Clock, for tests that move time; defaults to `Date.now`. */
  now?: () => number;
}

interface MemoryRecord {
  fingerprint: string;
  token: string | null;
  leaseUntil: number;
  expiresAt: number;
  response: string | null;
}

/**
 * A store for one process: tests, development, and single-instance apps. It implements the whole contract
 * (TTL, lease, fencing) with bounded memory, but its records die with the process and are not shared.
 */
export class MemoryIdempotencyStore extends IdempotencyStore {
  private readonly logger = new Logger(MemoryIdempotencyStore.name);
  private readonly records = new Map<string, MemoryRecord>();
  private readonly maxEntries: number;
  private readonly now: () => number;

  constructor(options: MemoryIdempotencyStoreOptions = {}) {
    super();
    this.maxEntries = options.maxEntries ?? 100_000;
    this.now = options.now ?? Date.now;
    if (!Number.isInteger(this.maxEntries) || this.maxEntries < 1) {
      throw new Error(`MemoryIdempotencyStore: maxEntries must be a positive integer, got ${options.maxEntries}`);
    }
  }

  /** How many records are held, expired ones not yet evicted included. */
  get size(): number {
    return this.records.size;
  }

  async acquire(id: IdempotencyRecordId, request: IdempotencyAcquireRequest): Promise<IdempotencyAcquireResult> {
    const now = this.now();
    const mapKey = this.mapKey(id);
    const existing = this.live(mapKey, now);
    if (existing?.response != null) {
      return { state: 'completed', fingerprint: existing.fingerprint, response: existing.response };
    }
    if (existing && (existing.leaseUntil > now || existing.fingerprint !== request.fingerprint)) {
      return {
        state: 'in_flight',
        fingerprint: existing.fingerprint,
        retryAfterMs: Math.max(0, existing.leaseUntil - now),
      };
    }
    const record: MemoryRecord = {
      fingerprint: request.fingerprint,
      token: request.token,
      leaseUntil: now + request.leaseMs,
      expiresAt: now + request.ttlMs,
      response: null,
    };
    // Delete first so the Map's insertion order stays the order of last acquisition (oldest first).
    this.records.delete(mapKey);
    this.makeRoom(now);
    this.records.set(mapKey, record);
    return { state: 'acquired', takenOver: existing !== undefined };
  }

  async complete(id: IdempotencyRecordId, token: string, response: string, ttlMs: number): Promise<boolean> {
    const now = this.now();
    const record = this.live(this.mapKey(id), now);
    if (!record || record.response != null || record.token !== token) return false;
    record.response = response;
    record.token = null;
    record.expiresAt = now + ttlMs;
    return true;
  }

  async release(id: IdempotencyRecordId, token: string): Promise<boolean> {
    const mapKey = this.mapKey(id);
    const record = this.live(mapKey, this.now());
    if (!record || record.response != null || record.token !== token) return false;
    this.records.delete(mapKey);
    return true;
  }

  /** Removes every record (for tests). */
  clear(): void {
    this.records.clear();
  }

  private live(mapKey: string, now: number): MemoryRecord | undefined {
    const record = this.records.get(mapKey);
    if (record && record.expiresAt <= now) {
      this.records.delete(mapKey);
      return undefined;
    }
    return record;
  }

  /**
   * Records sit in the Map in the order they were acquired, so expired ones gather at its front: sweeping
   * from the front until the first live record bounds memory at amortised O(1) per acquire.
   */
  private makeRoom(now: number): void {
    let evictedLive = 0;
    for (const [mapKey, record] of this.records) {
      if (record.expiresAt <= now) {
        this.records.delete(mapKey);
      } else if (this.records.size >= this.maxEntries) {
        this.records.delete(mapKey);
        evictedLive++;
      } else {
        break;
      }
    }
    if (evictedLive > 0) {
      this.logger.warn(`Memory store full (maxEntries=${this.maxEntries}): evicted ${evictedLive} live record(s)`);
    }
  }

  private mapKey(id: IdempotencyRecordId): string {
    // JSON of a tuple is unambiguous whatever characters scope and key contain.
    return JSON.stringify([id.namespace, id.scope, id.key]);
  }
}
