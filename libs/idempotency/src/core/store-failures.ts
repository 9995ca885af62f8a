import { Logger } from '@nestjs/common';
import { DeferredSettlementQueue } from './deferred-settlements';
import { IdempotencyEventEmitter } from './event-emitter';
import { IdempotentCall } from './idempotent-call';
import { describeError } from '../util/describe-error';
import { StoreFailureEffect, StoreOutageReports } from './store-outage-report';
import { StoreOperation } from './telemetry/call-source';

/** How a deferred call is retried: see `DeferredSettlement`. */
export interface DeferOptions {
  retryWhenNotOwned: boolean;
  bytes: number;
}

/**
 * What the protocol does when a store call fails: counts it into the store's outage report (one log line per
 * outage and interval, not one per request), and makes a failed release or completion again in the background, so
 * that no key stays blocked for a whole lease. `stop()` gives each pending call one last attempt.
 */
export class StoreFailures {
  private readonly deferred = new DeferredSettlementQueue();
  private readonly outages: StoreOutageReports;
  private readonly stopObservingPending: () => void;

  constructor(
    logger: Logger,
    private readonly events: IdempotencyEventEmitter,
  ) {
    this.outages = new StoreOutageReports(logger);
    this.stopObservingPending = events.observePending(() => this.deferred.size);
  }

  /** A call to `store` that started at `startedAt` (performance.now()) succeeded: it may end an outage. */
  succeeded(store: object, startedAt: number): void {
    this.outages.succeeded(store, startedAt);
  }

  /** A store call (`operation`) of `call` failed, with this effect on it. */
  failed(call: IdempotentCall, operation: StoreOperation, effect: StoreFailureEffect, reason: string): void {
    this.outages.failed(call.options.store, call.route, effect, reason);
    this.events.storeFailed(call, operation, effect);
  }

  /** Queues a failed release or completion to be made again, and reports how it ends in the log and events. */
  defer(
    call: IdempotentCall,
    action: 'release' | 'complete',
    attempt: () => Promise<boolean>,
    { retryWhenNotOwned, bytes }: DeferOptions,
  ): void {
    const { id, route, options } = call;
    this.deferred.schedule({
      attempt,
      retryWhenNotOwned,
      bytes,
      deadline: Date.now() + options.lockTimeout,
      onSettled: (result, attempts, lastError) => {
        const reason = `deferred ${action}: ${result} after ${attempts} attempt(s)${lastError === undefined ? '' : `; last error: ${describeError(lastError)}`}`;
        this.outages.deferredSettled(options.store, route, action, result, reason);
        this.events.emit(
          { outcome: 'deferred_settlement', route, scope: id.scope, reason, deferred: { action, result, attempts } },
          call,
        );
      },
    });
  }

  /** Makes one last attempt at every deferred call (bounded), then stops retrying and reporting. */
  async stop(): Promise<void> {
    await this.deferred.stop();
    this.outages.stop();
    this.stopObservingPending();
  }
}
