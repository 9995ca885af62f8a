import { Logger } from '@nestjs/common';
import { IdempotencyEventEmitter } from './event-emitter';
import { IdempotencyInProgressError, IdempotencyStoreUnavailableError } from './idempotency.errors';
import { IdempotentCall, IdempotentExecution, IdempotentSettlement, settle } from './idempotent-call';
import { describeError } from '../util/describe-error';
import { RecordSettlement } from './record-settlement';
import { ResponseCodec } from './response-codec';
import { retryAfterSeconds } from './retry-after';
import { StoreFailures } from './store-failures';
import { serialise } from './stored-response';
import { inStoreSpan } from './telemetry/store-span';
import {
  IdempotencyStore,
  IdempotencyStoreTransaction,
  TransactionalIdempotencyStore,
} from '../stores/idempotency-store';

/** How the handler's transaction ended, as decided inside it. */
type TransactionOutcome =
  /** The work succeeded and its record completed in the transaction: both committed. */
  | { kind: 'committed'; settlement: IdempotentSettlement; stored: string; completing: number }
  /** A success that cannot be replayed (a stream): the writes committed, the record is released. */
  | { kind: 'not_stored'; settlement: IdempotentSettlement; reason: string }
  /** Another request took the lease over and runs the work itself: these writes were rolled back. */
  | { kind: 'lease_lost'; settlement: IdempotentSettlement }
  /** The work failed, or turned its input away: its writes were rolled back. */
  | { kind: 'rolled_back'; settlement: IdempotentSettlement }
  /** The transaction itself failed (to begin, or to commit): nothing committed; `settlement` if the work ran. */
  | { kind: 'failed'; error: unknown; settlement?: IdempotentSettlement };

/** Thrown inside the transaction to roll it back, carrying why; never escapes this file. */
class RollBack {
  constructor(readonly outcome: TransactionOutcome) {}
}

/**
 * The transactional mode: the work runs inside the store's database transaction and a successful result completes
 * the record in that same transaction, so the writes and the record commit together or not at all. A failure rolls
 * the work back and is then stored (a 4xx) or released as usual, outside it.
 */
export class TransactionalExecution {
  constructor(
    private readonly records: RecordSettlement,
    private readonly failures: StoreFailures,
    private readonly events: IdempotencyEventEmitter,
    private readonly logger: Logger,
    private readonly codec: ResponseCodec,
  ) {}

  /** Runs an owned call's work in the store's transaction and answers as the transaction ended. */
  async run(
    call: IdempotentCall,
    token: string,
    acquireMs: number,
    cacheKey: string | undefined,
  ): Promise<IdempotentExecution> {
    const outcome = await this.transact(call, token);
    return this.answer(call, token, acquireMs, cacheKey, outcome);
  }

  /** Runs the work and completes its record in one transaction, and says how the transaction ended. */
  private async transact(call: IdempotentCall, token: string): Promise<TransactionOutcome> {
    const store = call.options.store as IdempotencyStore & TransactionalIdempotencyStore;
    // The commit fails after the callback has returned: what the work settled must outlive the callback.
    const ran: { settlement?: IdempotentSettlement } = {};
    try {
      return await store.runInTransaction(async (transaction) => {
        const settlement = (ran.settlement = await settle(call));
        const complete: IdempotencyStoreTransaction['complete'] = (...args) =>
          inStoreSpan(this.events.tracing, call, 'complete', () => transaction.complete(...args));
        const decided = await this.decide(call, token, settlement, complete);
        if (decided.kind === 'lease_lost' || decided.kind === 'rolled_back') throw new RollBack(decided);
        return decided;
      });
    } catch (error) {
      return error instanceof RollBack ? error.outcome : { kind: 'failed', error, settlement: ran.settlement };
    }
  }

  /** What the transaction does with the work's settlement: complete the record in it, or roll back. */
  private async decide(
    call: IdempotentCall,
    token: string,
    settlement: IdempotentSettlement,
    complete: IdempotencyStoreTransaction['complete'],
  ): Promise<TransactionOutcome> {
    const { id, options } = call;
    const { result, keep } = settlement;
    if ('error' in result || ('rollBack' in keep && keep.rollBack)) return { kind: 'rolled_back', settlement };
    if (!('store' in keep)) return { kind: 'not_stored', settlement, reason: keep.reason };
    const serialised = serialise(keep.store, options.maxResponseBytes);
    if (typeof serialised !== 'string') return { kind: 'not_stored', settlement, reason: serialised.reason };
    const completing = Date.now();
    if (!(await complete(id, token, this.codec.encode(serialised, id), options.ttl))) {
      return { kind: 'lease_lost', settlement };
    }
    return { kind: 'committed', settlement, stored: serialised, completing };
  }

  private async answer(
    call: IdempotentCall,
    token: string,
    acquireMs: number,
    cacheKey: string | undefined,
    outcome: TransactionOutcome,
  ): Promise<IdempotentExecution> {
    const { id, route, options } = call;
    const event = { route, scope: id.scope, acquireMs };
    switch (outcome.kind) {
      case 'committed':
        if (cacheKey !== undefined) this.records.cacheCompleted(call, cacheKey, outcome.stored, outcome.completing);
        this.events.emit({ ...event, outcome: 'executed' }, call);
        return { kind: 'executed', settlement: outcome.settlement };
      case 'not_stored':
        return this.records.release(call, token, outcome.settlement, 'not_stored', outcome.reason, acquireMs);
      case 'lease_lost': {
        this.logger.warn(
          `${route}: the lease expired while the request ran and another request took it over; its writes were rolled back`,
        );
        this.events.emit({ ...event, outcome: 'conflict', leaseLost: true }, call);
        // The new owner's lease is unknown here; the hint is never longer than a whole one.
        const conflict: IdempotentSettlement = {
          result: {
            error: new IdempotencyInProgressError(retryAfterSeconds(options.retryAfter, options.lockTimeout)),
          },
          keep: { release: 'released', reason: 'lease lost' },
        };
        return { kind: 'executed', settlement: conflict, rolledBack: outcome.settlement };
      }
      case 'rolled_back':
        // The work failed and its writes are gone; store (a 4xx) or release it as outside the transactional mode.
        return this.records.finish(call, token, acquireMs, outcome.settlement);
      case 'failed':
        return this.transactionFailed(call, token, acquireMs, outcome.error, outcome.settlement);
    }
  }

  /**
   * The transaction itself failed (it could not begin, the commit was refused, the connection was lost): nothing
   * committed, so the handler's success must not be sent. The record is released for a retry.
   */
  private async transactionFailed(
    call: IdempotentCall,
    token: string,
    acquireMs: number,
    error: unknown,
    settlement: IdempotentSettlement | undefined,
  ): Promise<IdempotentExecution> {
    const { options } = call;
    const unavailable = new IdempotencyStoreUnavailableError(
      retryAfterSeconds(options.retryAfter, options.lockTimeout),
    );
    // The transaction is where the record completes: its failure counts as the complete's.
    this.failures.failed(call, 'complete', settlement ? 'rolled_back' : 'refused', describeError(error));
    const reason = `transaction failed: ${describeError(error)}`;
    const failed: IdempotentSettlement = { result: { error: unavailable }, keep: { release: 'released', reason } };
    await this.records.release(call, token, failed, 'released', reason, acquireMs);
    // It could not begin, so the work never ran: a refusal, as a failed acquire is (a message goes back to its
    // queue; nothing of the handler's is there to settle it).
    if (settlement === undefined) throw unavailable;
    return { kind: 'executed', settlement: failed, rolledBack: settlement };
  }
}
