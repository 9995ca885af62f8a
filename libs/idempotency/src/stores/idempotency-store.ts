/**
 * Identity of one idempotency record. Stores must treat the three parts as separate fields (or encode them
 * unambiguously), so that scope "a:b" with key "c" never meets scope "a" with key "b:c".
 */
export interface IdempotencyRecordId {
  /** The `keyPrefix` option: lets several applications share one store. */
  namespace: string;
  /** Whose key it is (the authenticated principal by default; '' when none). */
  scope: string;
  /** The client's idempotency key, already validated: 1-255 visible ASCII characters. */
  key: string;
}

/** What `acquire` needs to create (or take over) an in-flight record. */
export interface IdempotencyAcquireRequest {
  /** Hash of the request; a record with another fingerprint is never taken over. */
  fingerprint: string;
  /** Fencing token of this attempt; `complete` and `release` must present it. */
  token: string;
  /** How long the lease lasts before another request may take the record over. */
  leaseMs: number;
  /** How long the record lives in all (in flight or completed) before it counts as absent. */
  ttlMs: number;
  /**
   * Set in the transactional mode, where the work commits in a transaction of the store's own database: the new
   * record then needs to survive a crash only once that transaction commits. A database whose log is written in
   * order makes it durable with that commit, so its store may let the acquire commit without waiting for a flush
   * of its own (one disk flush per request instead of two). If the database crashes before the work commits, the
   * record and the work are lost together, and the retry runs the work for the first time. Stores may ignore it.
   */
  durableWithWork?: boolean;
}

/** The answer of `acquire`: this attempt owns the record now, or the record that was there. */
export type IdempotencyAcquireResult =
  /** No live record existed (or one with this fingerprint had an expired lease): this token owns it now. */
  | { state: 'acquired'; takenOver: boolean }
  /** Another attempt holds a lease. `retryAfterMs` is what is left of it (0 when it expired). */
  | { state: 'in_flight'; fingerprint: string; retryAfterMs: number }
  /** The record is completed; `response` is exactly the string given to `complete`. */
  | { state: 'completed'; fingerprint: string; response: string };

/**
 * A record as `inspect` finds it. Times are epoch milliseconds on the store's own clock (the one its leases and
 * expiry run on); `fingerprint` and `response` are exactly what `acquire` would return for the record.
 */
export type IdempotencyRecordSnapshot =
  | { state: 'in_flight'; fingerprint: string; leaseExpiresAt: number; expiresAt: number }
  | { state: 'completed'; fingerprint: string; response: string; expiresAt: number };

/** What `forget` did: deleted the record, found none (or an expired one), or left an in-flight one alone. */
export type IdempotencyForgetResult = 'forgotten' | 'absent' | 'in_flight';

/**
 * The contract every idempotency store implements. It is also the DI token: inject `IdempotencyStore`.
 *
 * Every method is one atomic step, so that many processes sharing one store agree: a Redis Lua script, one
 * SQL statement guarded by the primary key, one synchronous step in memory. A method that cannot reach its
 * backend rejects (the library answers 503); it never hangs and never guesses. A call it knows never reached the
 * backend (no connection could be had) rejects with `IdempotencyStoreUnreachableError`, so that the library does
 * not release later a record that such an acquire cannot have written.
 *
 * `IdempotencyModule` gives every distinct store it finds (the module's, and any given to a route, a controller, a
 * message handler or a resolver) one lifecycle: `start()` once when the application starts, before any request,
 * and `close()` once when it shuts down, after the last settlements. Both are optional; a store should not rely
 * on Nest hooks of its own, which Nest calls only on the module's store, and too early at shutdown.
 */
export abstract class IdempotencyStore {
  /**
   * Prepares the store: opens connections, checks the schema, starts timers. A rejection stops start-up, so
   * reject only for what a retry cannot fix (a missing table); an unreachable backend is an outage, answered 503.
   */
  start?(): void | Promise<void>;

  /** Releases what `start()` (or use) opened, so nothing keeps the process alive. Called once, after the last call. */
  close?(): void | Promise<void>;

  /**
   * Creates an in-flight record owned by `request.token` if no live record exists, in one atomic step,
   * and otherwise returns the existing record. A record whose TTL has passed counts as absent at once.
   * An in-flight record whose lease has expired and whose fingerprint equals `request.fingerprint` is
   * taken over: its token is replaced by `request.token` and its lease renewed (`takenOver: true`).
   * Of many concurrent calls for one id, exactly one gets `acquired`.
   */
  abstract acquire(id: IdempotencyRecordId, request: IdempotencyAcquireRequest): Promise<IdempotencyAcquireResult>;

  /**
   * Marks the record completed with `response`, to live `ttlMs` from now, only if it is in flight and
   * `token` still owns it (a fencing token: a stale owner whose lease was taken over cannot overwrite the
   * new owner's record). Resolves true when it stored, false when the token no longer owns the record.
   */
  abstract complete(id: IdempotencyRecordId, token: string, response: string, ttlMs: number): Promise<boolean>;

  /**
   * Deletes the record only if it is in flight and `token` owns it, so a retry can run again. Resolves true
   * when it deleted, false when the token no longer owns the record.
   */
  abstract release(id: IdempotencyRecordId, token: string): Promise<boolean>;

  /**
   * The live record under `id`, or undefined when there is none (an expired record counts as absent). A read: it
   * changes nothing, not even a record's place in an eviction order. Optional, so that stores written before it
   * still compile; `IdempotencyService.inspect` names the store that lacks it.
   */
  inspect?(id: IdempotencyRecordId): Promise<IdempotencyRecordSnapshot | undefined>;

  /**
   * Deletes the record under `id` in one atomic step, so the next request with its key runs the work again. A
   * completed record is deleted; an in-flight one only with `force` (else `in_flight`, and nothing deleted), and
   * its holder's `complete` and `release` then find no record of theirs (false). Optional, like `inspect`.
   */
  forget?(id: IdempotencyRecordId, options: { force: boolean }): Promise<IdempotencyForgetResult>;
}

/** What a transactional store hands the protocol inside the transaction the handler runs in. */
export interface IdempotencyStoreTransaction {
  /** `IdempotencyStore.complete`, as part of the transaction: the record commits (or not) with the work. */
  complete(id: IdempotencyRecordId, token: string, response: string, ttlMs: number): Promise<boolean>;
}

/**
 * A store that lives in the business database and can complete a record in the handler's own transaction,
 * closing the window between "the work committed" and "the record completed" (docs/protocol.md §10).
 */
export interface TransactionalIdempotencyStore {
  /**
   * Runs `work` in one database transaction and commits it when `work` resolves, rolls it back when `work`
   * rejects. The handler's writes made inside `work` (through the transaction's connection) and
   * `transaction.complete(...)` commit together, or neither does.
   */
  runInTransaction<T>(work: (transaction: IdempotencyStoreTransaction) => Promise<T>): Promise<T>;
  /** Whether the transaction runs on `connection` (a TypeORM `DataSource`, say): the handler's writes must too. */
  sharesConnectionWith(connection: unknown): boolean;
}

/** Whether `store` can run the transactional mode. */
export function supportsTransactions(
  store: IdempotencyStore,
): store is IdempotencyStore & TransactionalIdempotencyStore {
  const candidate = store as Partial<TransactionalIdempotencyStore>;
  return typeof candidate.runInTransaction === 'function' && typeof candidate.sharesConnectionWith === 'function';
}
