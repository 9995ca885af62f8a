import type { IdempotencyStore } from '../index';

/** The store under test, and how to clean up after it (close connections, drop the database made for the run). */
export interface IdempotencyStoreContractSubject {
  store: IdempotencyStore;
  /** Runs once, after the suite's last case. */
  close?: () => void | Promise<void>;
}

/** What `describeIdempotencyStoreContract` runs the contract against, and what the store supports. */
export interface IdempotencyStoreContractOptions {
  /**
   * Opens the store, once, before the suite's first case. The cases share it (and its server) without cleaning up:
   * each works under a namespace of its own.
   */
  open: () => IdempotencyStoreContractSubject | Promise<IdempotencyStoreContractSubject>;
  /**
   * Whether the store implements the optional `inspect()` and `forget()`, which the suite then holds to their
   * contract too. Default true, so that a store missing one fails the suite unless it says it leaves them out
   * (`IdempotencyService.inspect` and `forget` then reject, naming the store).
   */
  inspectAndForget?: boolean;
  /**
   * How far the store's clock (the one its leases and expiry run on: Redis's, the database's) may be from this
   * process's, for the times `inspect()` reports. Default 1000 ms.
   */
  clockSlackMs?: number;
}
