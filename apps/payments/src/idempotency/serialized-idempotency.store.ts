import { OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { Mutex } from 'async-mutex';
import {
  IdempotencyAcquireRequest,
  IdempotencyAcquireResult,
  IdempotencyRecordId,
  IdempotencyStore,
} from '@app/idempotency';

/**
 * Runs a store's calls through the mutex the app's SQLite transactions hold, so that an idempotency
 * statement never lands inside (and rolls back with) another request's open transaction on the one
 * connection better-sqlite3 has. See `DatabaseService`.
 */
export class SerializedIdempotencyStore extends IdempotencyStore implements OnModuleInit, OnModuleDestroy {
  constructor(
    private readonly inner: IdempotencyStore,
    private readonly mutex: Mutex,
  ) {
    super();
  }

  acquire(id: IdempotencyRecordId, request: IdempotencyAcquireRequest): Promise<IdempotencyAcquireResult> {
    return this.mutex.runExclusive(() => this.inner.acquire(id, request));
  }

  complete(id: IdempotencyRecordId, token: string, response: string, ttlMs: number): Promise<boolean> {
    return this.mutex.runExclusive(() => this.inner.complete(id, token, response, ttlMs));
  }

  release(id: IdempotencyRecordId, token: string): Promise<boolean> {
    return this.mutex.runExclusive(() => this.inner.release(id, token));
  }

  async onModuleInit(): Promise<void> {
    await (this.inner as Partial<OnModuleInit>).onModuleInit?.();
  }

  async onModuleDestroy(): Promise<void> {
    await (this.inner as Partial<OnModuleDestroy>).onModuleDestroy?.();
  }
}
