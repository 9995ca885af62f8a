import { Logger } from '@nestjs/common';
import { IdempotentCall } from './idempotent-call';
import { describeError } from './describe-error';
import { IdempotencyEvent, IdempotencyEventListener, IdempotencyOutcome } from './idempotency.events';

/** Hands events to the module's `events` hook; builds none when nobody listens. */
export class IdempotencyEventEmitter {
  constructor(
    private readonly listener: IdempotencyEventListener | undefined,
    private readonly logger: Logger,
  ) {}

  /** Whether anyone listens: events with more than the common fields are built only then. */
  get listening(): boolean {
    return this.listener !== undefined;
  }

  /** Sends an event to the `events` hook; a throwing listener is logged, never allowed to fail a request. */
  emit(event: IdempotencyEvent): void {
    if (!this.listener) return;
    try {
      this.listener(event);
    } catch (error) {
      this.logger.error(`The idempotency events listener threw: ${describeError(error)}`);
    }
  }

  /** The common event (no reason, no flags), built only when someone listens. */
  emitOutcome(outcome: IdempotencyOutcome, call: IdempotentCall, acquireMs: number | undefined): void {
    if (!this.listener) return;
    this.emit({ outcome, route: call.route, scope: call.id.scope, acquireMs });
  }
}
