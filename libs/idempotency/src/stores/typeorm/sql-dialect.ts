import { DataSource, QueryRunner } from 'typeorm';
import {
  IdempotencyAcquireResult,
  IdempotencyForgetResult,
  IdempotencyRecordId,
  IdempotencyRecordSnapshot,
} from '../idempotency-store';

/** One store call as a dialect sees it: `abandoned` turns true once its caller stopped waiting (`callTimeout`). */
export interface StoreCall {
  abandoned: boolean;
}

/** An acquire as the dialects run it: lengths checked, durations in whole milliseconds. */
export interface AcquireAttempt {
  fingerprint: string;
  token: string;
  leaseMs: number;
  ttlMs: number;
  /** `IdempotencyAcquireRequest.durableWithWork`: the acquire may commit without a flush of its own. */
  durableWithWork: boolean;
}

/** A value, or the promise of one: better-sqlite3 answers at once, and a promise round trip would only cost. */
export type Answer<T> = T | Promise<T>;

/**
 * The SQL of one database family, run on its own driver inside the DataSource TypeORM opened (its pool, its
 * connection). Each method is one atomic step on the database; `TypeOrmIdempotencyStore` checks the input, bounds
 * the time and repeats acquire. Every time is the database's own clock, read inside the statement: a lease decides
 * whether another instance may run a handler again, and app servers' clocks drift apart, so on the database's clock
 * no skewed instance can take over a live lease early.
 */
export interface SqlDialect {
  /** One acquire decision: its result, or undefined when the row changed under it and acquire must decide again. */
  acquire(
    id: IdempotencyRecordId,
    attempt: AcquireAttempt,
    call: StoreCall,
  ): Answer<IdempotencyAcquireResult | undefined>;
  complete(id: IdempotencyRecordId, token: string, response: string, ttlMs: number, call: StoreCall): Answer<boolean>;
  /**
   * `complete` on the connection of the transaction `runner` holds (the transactional mode). Never repeated: a
   * deadlock there aborts the whole transaction, and the caller rolls it back.
   */
  completeIn(
    runner: QueryRunner,
    id: IdempotencyRecordId,
    token: string,
    response: string,
    ttlMs: number,
  ): Promise<boolean>;
  release(id: IdempotencyRecordId, token: string, call: StoreCall): Answer<boolean>;
  /** The live record, read with the database's clock; undefined when there is none. */
  inspect(id: IdempotencyRecordId, call: StoreCall): Answer<IdempotencyRecordSnapshot | undefined>;
  /** Deletes a live record that is completed, or in flight with `force`, in one statement that decides alone. */
  forget(id: IdempotencyRecordId, force: boolean, call: StoreCall): Answer<IdempotencyForgetResult>;
  /** Deletes up to `batchSize` expired records in one statement; answers how many. */
  sweep(batchSize: number, call: StoreCall): Answer<number>;
  /**
   * Whether a call may run at once and synchronously, with nothing to wait for (better-sqlite3 with its one
   * connection free). Such a call needs no timer: it cannot wait on anything.
   */
  isFree?(): boolean;
  /** Runs `work` in its turn among the units of work sharing the connection (SQLite); at once where a pool serves. */
  exclusive?<T>(work: () => Promise<T>): Promise<T>;
}

/** Builds a dialect on an initialised (or soon initialised) DataSource, for the table the store's options name. */
export type SqlDialectFactory = (dataSource: DataSource, tableName: string) => SqlDialect;

/**
 * The table as TypeORM's own query runners (and so the migration) resolve it, escaped: the schema (PostgreSQL) or
 * the database (MySQL) included when the DataSource or the name gives one.
 */
export function qualifiedTable(dataSource: DataSource, tableName: string, qualifier: 'schema' | 'database'): string {
  const driver = dataSource.driver;
  const parts = driver.parseTableName(tableName);
  return [parts[qualifier], parts.tableName]
    .filter((part): part is string => !!part)
    .map((part) => driver.escape(part))
    .join('.');
}
