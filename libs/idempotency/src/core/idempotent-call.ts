import { describeError } from '../util/describe-error';
import { ResolvedIdempotencyOptions } from '../options/idempotency-options.interface';
import { IdempotencyRecordId } from '../stores/idempotency-store';

/** What the protected work produced, and what of it to keep. */
export interface IdempotentSettlement {
  /** Handed back to the caller: a value to return or an error to rethrow. */
  result: { value: unknown } | { error: unknown };
  /**
   * `store`: the JSON-serialisable form a replay is built from. `release`: the work failed (5xx, non-HTTP
   * error), so the record is deleted and a retry runs again. `not_stored`: the result cannot be replayed
   * (a stream, ...), so the record is released and a warning logged. `rollBack`: the work did not happen after
   * all (a message its handler rejected or requeued), so the transactional mode rolls its writes back too.
   */
  keep: { store: unknown } | { release: 'released' | 'not_stored'; reason: string; rollBack?: boolean };
}

/** Which kind of call the library protects: an HTTP route, a message handler, a GraphQL mutation, `run()`. */
export type IdempotencyTransportKind = 'http' | 'rpc' | 'graphql' | 'run';

/** One protected call, as a transport or `run()` describes it to the protocol. */
export interface IdempotentCall {
  id: IdempotencyRecordId;
  fingerprint: string;
  /** Name in events, logs and telemetry: `POST /payments`, or the operation's name. */
  route: string;
  /** Who made the call, for telemetry's `idempotency.transport`. */
  transport: IdempotencyTransportKind;
  options: ResolvedIdempotencyOptions;
  /** Runs the work once this call owns the record. It should settle rather than throw. */
  work: () => Promise<IdempotentSettlement>;
}

/** How a call ended: the work ran here (protected, or unprotected by `failOpen`), or a stored result came back. */
export type IdempotentExecution =
  | {
      kind: 'executed';
      settlement: IdempotentSettlement;
      /**
       * The work's own settlement, when the protocol answered in its place because the work's writes were rolled
       * back after it ran (its transaction failed to commit, or its lease was taken over). A message handler that
       * succeeded then has its message come back rather than be acknowledged.
       */
      rolledBack?: IdempotentSettlement;
    }
  | { kind: 'unprotected'; settlement: IdempotentSettlement }
  | { kind: 'replayed'; stored: unknown };

/** Runs a call's work; work that throws (rather than settles) leaves its error and a released record. */
export async function settle(call: IdempotentCall): Promise<IdempotentSettlement> {
  try {
    return await call.work();
  } catch (error) {
    return { result: { error }, keep: { release: 'released', reason: describeError(error) } };
  }
}
