import type { IdempotencyRecordId, IdempotencyStore } from '../index';
import type { ContractStep } from './contract-runner';

/** What every group of cases works with: the open store, and record ids under the running case's own namespace. */
export interface ContractContext {
  /** Registers a case with the runner. */
  it: (name: string, test: ContractStep) => unknown;
  /** The store under test; open by the time a case runs. */
  readonly store: IdempotencyStore;
  /** The running case's namespace: fresh for each, so cases can share one real server without cleaning it. */
  readonly namespace: string;
  /** A record id under the running case's namespace. */
  id: (key?: string, scope?: string) => IdempotencyRecordId;
}
