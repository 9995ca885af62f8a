/**
 * What became of one keyed request; every request protected by the library yields exactly one, and a store
 * call made again later (see `deferred_settlement`) one more when it ends.
 */
export type IdempotencyOutcome =
  /** The handler ran and its response was stored. */
  | 'executed'
  /** A stored response was sent again; the handler did not run. */
  | 'replayed'
  /** Another request with the key is in flight: 409 (or a wait that timed out). */
  | 'conflict'
  /** The key was used before for another request: 422. */
  | 'mismatch'
  /** The route requires a key and none came: 400. */
  | 'missing_key'
  /** The key was malformed or sent twice: 400. */
  | 'invalid_key'
  /** The store failed and the request was refused: 503. */
  | 'store_error'
  /** The store failed and the handler ran unprotected, because `failOpen` is set. */
  | 'fail_open'
  /** The handler ran and failed (5xx or a non-HTTP error): the record was released so a retry runs again. */
  | 'released'
  /** The handler ran but its response cannot be stored (a stream, too large): the record was released. */
  | 'not_stored'
  /**
   * A release or completion that had failed (a 503 whose acquire may still land, a release after a 5xx, a
   * completion after the work) was made again later; `deferred` says which and how it ended.
   */
  | 'deferred_settlement';

/**
 * How a store call made again later ended: `settled` (released, or the result stored), `not_owned` (the token
 * owns no record: the acquire never wrote one, or another request took it over), `gave_up` (the store kept
 * failing until the lease's end), `dropped` (too many pending: the record blocks only until its lease ends).
 */
export type DeferredSettlementResult = 'settled' | 'not_owned' | 'gave_up' | 'dropped';

/** The event every keyed request yields, for metrics and logs. */
export interface IdempotencyEvent {
  outcome: IdempotencyOutcome;
  /** `METHOD /route/:pattern` for HTTP, the operation's name for `IdempotencyService.run`. */
  route: string;
  /** The scope the record lives in ('' when none). */
  scope: string;
  /** Duration of the acquire round trip in milliseconds; absent when no acquire was made. */
  acquireMs?: number;
  /** Why a response was not stored or a store failed, for logs. */
  reason?: string;
  /** True on a replay answered from the `localCache`, without asking the store. */
  fromLocalCache?: true;
  /** True when the handler ran on a lease it had lost by the time it finished (its result was not stored). */
  leaseLost?: boolean;
  /** For `deferred_settlement`: which store call was made again, how it ended, after how many attempts. */
  deferred?: { action: 'release' | 'complete'; result: DeferredSettlementResult; attempts: number };
}

/** A function that receives every event; it must not throw (errors are logged and swallowed). */
export type IdempotencyEventListener = (event: IdempotencyEvent) => void;
