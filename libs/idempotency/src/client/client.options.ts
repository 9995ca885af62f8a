/** How hard the client tries before it says the outcome is unknown. Every field has a default. */
export interface IdempotentRetryOptions {
  /** Attempts in all, the first included (default 5). */
  maxAttempts?: number;
  /** Total time for every attempt and wait, from the call (default 30 000 ms). A wait that would end past it is not begun. */
  deadlineMs?: number;
  /** One attempt's bound, answer body included (default 10 000 ms); never more than what is left of the deadline. */
  attemptTimeoutMs?: number;
  /** The first retry's backoff ceiling (default 250 ms); it doubles per retry, with full jitter. */
  baseDelayMs?: number;
  /** The backoff ceiling's cap (default 5 000 ms). A server's `Retry-After` is honoured even when longer. */
  maxDelayMs?: number;
}

/** A client's defaults, given once to `createIdempotentFetch` or `createIdempotentHttpClient`. */
export interface IdempotentClientOptions extends IdempotentRetryOptions {
  /** Prefixed to a request's relative `url` (`new URL(url, baseUrl)`). */
  baseUrl?: string;
  /** Headers sent with every request. */
  headers?: Record<string, string>;
  /** The key's header (default `Idempotency-Key`), as the server's `headerName` option names it. */
  headerName?: string;
  /** Called after every attempt, with what it got and what happens next; whatever it throws is ignored. */
  onAttempt?: (event: IdempotentAttemptEvent) => void;
}

/** Methods worth a key: the ones that change something (RFC 9110's unsafe methods). */
export type IdempotentMethod = 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** One call: every attempt of it sends the same key and the same body bytes. */
export interface IdempotentRequest extends IdempotentRetryOptions {
  /** Absolute, or relative to the client's `baseUrl`. */
  url: string;
  /** Default `POST`. */
  method?: IdempotentMethod;
  /**
   * The call's key: given by the caller or derived from what it persists (`idempotencyKeyFor('payment', orderId)`),
   * never made per attempt. 1-255 visible ASCII characters; anything else is refused before sending.
   */
  key: string;
  /**
   * A string or bytes are sent as they are; anything else is serialised as JSON once (`content-type:
   * application/json` unless given), so a retry sends the same bytes.
   */
  body?: unknown;
  /** Headers of this call, over the client's. */
  headers?: Record<string, string>;
  /** Aborts the call: the attempt under way and any wait. The outcome is then unknown (see the errors). */
  signal?: AbortSignal;
}

/** A definitive answer below 400 (a 3xx is not followed: a redirected `POST` could become a `GET`). */
export interface IdempotentResponse<T = unknown> {
  status: number;
  /** Header names in lower case. */
  headers: Record<string, string>;
  /** Parsed JSON when the answer says it is JSON, else the text; `undefined` when empty. */
  body: T;
  /** Whether the server replayed a stored answer (`Idempotent-Replayed: true`): the work ran before, not now. */
  replayed: boolean;
  /** Attempts it took, this one included. */
  attempts: number;
  /** The key every attempt sent. */
  key: string;
}

/** What an attempt ended with, and what the client does next. */
export interface IdempotentAttemptEvent {
  key: string;
  /** 1 for the first attempt. */
  attempt: number;
  method: IdempotentMethod;
  url: string;
  /** The answer's status, when there was one. */
  status?: number;
  /** Why there was no answer: a network error, or `IdempotentAttemptTimeoutError`. */
  error?: unknown;
  /** `done` (an answer below 400), `rejected` (a definitive error status), `retry`, or `gave_up` (outcome unknown). */
  decision: 'done' | 'rejected' | 'retry' | 'gave_up';
  /** With `retry`: the wait before the next attempt (a server's `Retry-After`, else the backoff). */
  delayMs?: number;
}

/** The retry settings with every default filled in. */
export type ResolvedRetryOptions = Required<IdempotentRetryOptions>;

/** Defaults of `IdempotentRetryOptions`. */
export const IDEMPOTENT_CLIENT_DEFAULTS: Readonly<ResolvedRetryOptions> = Object.freeze({
  maxAttempts: 5,
  deadlineMs: 30_000,
  attemptTimeoutMs: 10_000,
  baseDelayMs: 250,
  maxDelayMs: 5_000,
});

/** The request's settings over the client's over the defaults; refuses a setting that could never work. */
export function resolveRetryOptions(
  client: IdempotentRetryOptions,
  request: IdempotentRetryOptions,
): ResolvedRetryOptions {
  const resolved = { ...IDEMPOTENT_CLIENT_DEFAULTS };
  for (const name of Object.keys(resolved) as (keyof ResolvedRetryOptions)[]) {
    const value = request[name] ?? client[name] ?? resolved[name];
    const valid =
      name === 'maxAttempts' ? Number.isSafeInteger(value) && value >= 1 : Number.isFinite(value) && value >= 0;
    if (!valid)
      throw new RangeError(
        `Idempotent client option ${name} must be ${name === 'maxAttempts' ? 'an integer >= 1' : 'a number >= 0'}`,
      );
    resolved[name] = value;
  }
  return resolved;
}
