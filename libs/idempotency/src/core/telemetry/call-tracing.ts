import type { Span, Tracer } from '@opentelemetry/api';
import { IdempotentCall } from '../idempotent-call';
import { IdempotencyEvent } from '../../options/idempotency.events';
import { callAttributes, errorType } from './call-attributes';
import { StoreOperation } from './call-source';
import { OpenTelemetryApiModule } from './opentelemetry-api';

/**
 * One span per guarded call (`idempotency <route>`), a child of the caller's active context, that covers the
 * acquire, the work and the complete or release, with a child span per store round trip. The work runs in the
 * call's span context, so the handler's own spans are its children.
 */
export class CallTracing {
  /** The span of each call in flight; the executor passes the call object itself along, so it is the key. */
  private readonly spans = new WeakMap<IdempotentCall, Span>();

  constructor(
    private readonly api: OpenTelemetryApiModule,
    private readonly tracer: Tracer,
  ) {}

  /** Runs `body`, the protocol for `call`, inside the call's span, and ends the span when it settles. */
  async traced<T>(call: IdempotentCall, body: () => Promise<T>): Promise<T> {
    const { context, trace, SpanKind } = this.api;
    const parent = context.active();
    const span = this.tracer.startSpan(
      `idempotency ${call.route}`,
      { kind: SpanKind.INTERNAL, attributes: callAttributes(call) },
      parent,
    );
    this.spans.set(call, span);
    try {
      return await context.with(trace.setSpan(parent, span), body);
    } finally {
      this.spans.delete(call);
      span.end();
    }
  }

  /**
   * Sets the call's outcome on its span. Only a store failure is an error: a 409 or 422 is the protocol
   * working, and a handler's failure is on the handler's own span.
   */
  outcome(event: IdempotencyEvent, call: object): void {
    const span = this.spans.get(call as IdempotentCall);
    if (!span) return;
    span.setAttributes({
      'idempotency.outcome': event.outcome,
      'idempotency.replayed': event.outcome === 'replayed',
      'idempotency.local_cache_hit': event.fromLocalCache === true,
    });
    if (event.outcome === 'store_error') span.setStatus({ code: this.api.SpanStatusCode.ERROR });
  }

  /** Runs a store round trip of `call` in a child span (`idempotency.acquire` and so on); none outside a call span. */
  async storeCall<T>(call: IdempotentCall, operation: StoreOperation, send: () => Promise<T>): Promise<T> {
    const parent = this.spans.get(call);
    if (!parent) return send();
    const { context, trace, SpanKind, SpanStatusCode } = this.api;
    const parentContext = trace.setSpan(context.active(), parent);
    const span = this.tracer.startSpan(
      `idempotency.${operation}`,
      { kind: SpanKind.INTERNAL, attributes: callAttributes(call) },
      parentContext,
    );
    try {
      return await context.with(trace.setSpan(parentContext, span), send);
    } catch (error) {
      span.setStatus({ code: SpanStatusCode.ERROR });
      span.setAttribute('error.type', errorType(error));
      throw error;
    } finally {
      span.end();
    }
  }
}
