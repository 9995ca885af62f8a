import { Logger } from '@nestjs/common';
import { IdempotentCall } from './idempotent-call';
import { describeError } from '../util/describe-error';
import { IdempotencyEvent, IdempotencyEventListener, IdempotencyOutcome } from '../options/idempotency.events';
import { StoreFailureEffect } from './store-outage-report';
import { CallSource, StoreOperation } from './telemetry/call-source';
import { CallTracing } from './telemetry/call-tracing';
import { IdempotencyTelemetry } from './telemetry/idempotency-telemetry';

/**
 * Reports what became of each call: to the module's `events` hook, and to OpenTelemetry (instruments, and the
 * outcome on the call's span). Builds no event when neither is there.
 */
export class IdempotencyEventEmitter {
  constructor(
    private readonly listener: IdempotencyEventListener | undefined,
    private readonly logger: Logger,
    private readonly telemetry: IdempotencyTelemetry | undefined = undefined,
  ) {}

  /** Whether anyone listens: events with more than the common fields are built only then. */
  get listening(): boolean {
    return this.listener !== undefined || this.telemetry !== undefined;
  }

  /** The span of each call and its store round trips, when a tracer provider is there. */
  get tracing(): CallTracing | undefined {
    return this.telemetry?.tracing;
  }

  /**
   * Sends an event to the `events` hook (a throwing listener is logged, never allowed to fail a request) and, with
   * its `source` (the call, or what a refusal before one knows of it), to OpenTelemetry.
   */
  emit(event: IdempotencyEvent, source?: CallSource): void {
    if (this.telemetry && source) {
      this.telemetry.metrics?.outcome(event, source);
      this.telemetry.tracing?.outcome(event, source);
    }
    if (!this.listener) return;
    try {
      this.listener(event);
    } catch (error) {
      this.logger.error(`The idempotency events listener threw: ${describeError(error)}`);
    }
  }

  /** The common event (no reason, no flags), built only when someone listens. */
  emitOutcome(outcome: IdempotencyOutcome, call: IdempotentCall, acquireMs: number | undefined): void {
    if (!this.listening) return;
    this.emit({ outcome, route: call.route, scope: call.id.scope, acquireMs }, call);
  }

  /** A store call of `call` failed, with this effect on it: counted in `idempotency.store.errors`. */
  storeFailed(call: IdempotentCall, operation: StoreOperation, effect: StoreFailureEffect): void {
    this.telemetry?.metrics?.storeFailed(call, operation, effect);
  }

  /** Counts a queue's deferred settlements into the pending gauge; returns what stops counting it. */
  observePending(size: () => number): () => void {
    return this.telemetry?.metrics?.observePending(size) ?? (() => undefined);
  }
}
