/**
 * How long the app lets the database make a request wait, by cause. Every wait is bounded so that one held row
 * lock, one slow statement or one silent server stalls only the requests that need it, and those get a
 * retryable 503 (see database-outage.ts) instead of hanging while the pool runs dry for everyone else.
 */
export interface DatabaseTimeouts {
  /**
   * Longest wait for one lock held by another transaction (PostgreSQL lock_timeout, InnoDB lock wait). It counts
   * per lock: on PostgreSQL a statement queued behind other waiters for one row first waits for the row's tuple
   * lock, then for the holder's transaction, so a blocked statement gives up within twice this.
   */
  lockWaitMs: number;
  /** Longest any one statement may run on the server (PostgreSQL statement_timeout, MariaDB max_statement_time). */
  statementMs: number;
  /** Client-side: a statement whose answer has not arrived by then is given up (the server or the link is gone). */
  clientQueryMs: number;
  /** Longest wait for a pooled connection, a new connection's set-up included. */
  poolWaitMs: number;
  /** A session left idle inside an open transaction is ended by the server, so its locks cannot outlive it. */
  idleInTransactionMs: number;
  /** SQLite: how long a write waits for another process's write lock. better-sqlite3 waits synchronously. */
  sqliteBusyMs: number;
}

/**
 * The app's bounds. A payment holds its customer's row lock for milliseconds, so a 1 s lock wait only trips on a
 * lock held abnormally long (a stuck client, an operator's session), and answers that customer's payments 503
 * within 2 s (see `lockWaitMs`), long before a client gives up. Statements of this app take milliseconds: 5 s is
 * a backstop, loose enough for the start-up migrations.
 * The pool wait stays above the lock wait so that a burst of payments queued behind one locked customer is
 * answered 503 by the lock bound, not by starving the pool. The SQLite busy wait blocks the whole event loop
 * while it lasts, so it is kept to 100 ms: a writer in another process gets a 503 rather than a frozen app.
 */
export const DATABASE_TIMEOUTS: DatabaseTimeouts = {
  lockWaitMs: 1_000,
  statementMs: 5_000,
  clientQueryMs: 6_000,
  poolWaitMs: 3_000,
  idleInTransactionMs: 10_000,
  sqliteBusyMs: 100,
};
