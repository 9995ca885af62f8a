/** What became of one keyed request; every request protected by the library yields exactly one. */
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
  | 'not_stored';

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
  /** True when the handler ran on a lease it had lost by the time it finished (its result was not stored). */
  leaseLost?: boolean;
}

/** A function that receives every event; it must not throw (errors are logged and swallowed). */
export type IdempotencyEventListener = (event: IdempotencyEvent) => void;
