import { CallHandler, ExecutionContext, Logger } from '@nestjs/common';
import { RmqContext } from '@nestjs/microservices';
import { EMPTY, from, lastValueFrom, Observable, of, toArray } from 'rxjs';
import { IdempotencyError, IdempotencyInProgressError } from '../core/idempotency.errors';
import { IdempotencyService } from '../core/idempotency.service';
import { IdempotentSettlement } from '../core/idempotent-call';
import { ResolvedIdempotencyOptions } from '../options/idempotency-options.interface';
import { IdempotencyTransport } from '../core/idempotency-transport';
import { IdempotencyRpcException } from './idempotency-rpc.exception';
import { messageHandlerPatterns } from '../core/message-handler-metadata';
import { identifyMessage } from './message-identity';
import { RmqDelivery } from './rmq-delivery';
import { watchForManualAck } from './rmq-manual-ack-watch';
import { describeError } from '../util/describe-error';

/** A handler's reply as stored for replay: its one value, or `none` when it completed without one. */
export type StoredRpcReply = { value: unknown } | { none: true };

/** What the transport works out once per handler. */
interface HandlerSettings {
  options: ResolvedIdempotencyOptions;
  /** `event <pattern>` or `message <pattern>`: the declared pattern, so metrics stay low-cardinality. */
  route: string;
  /** `Class.method`, named when a message is refused, so a failing option callback is found at once. */
  handlerName: string;
  isEvent: boolean;
  /** The declared pattern, fingerprinted when the transport does not say which one a message came by. */
  pattern: string;
  /** Whether the route has been warned that its consumer acknowledges by hand while `rmq.noAck` is true. */
  warnedManualAck?: boolean;
}

/**
 * Translates a message (`@MessagePattern`, `@EventPattern`) to the idempotency protocol and back: reads its key
 * (AMQP `messageId`, an `Idempotency-Key` header, or the `key` option), fingerprints pattern and payload, runs
 * the handler through `IdempotencyService`, replays a stored reply to a duplicate, and refuses with an
 * `IdempotencyRpcException`. On RabbitMQ with manual acknowledgement it also settles the messages it does
 * not run and holds the handler's own settlement until the record is settled (see `RmqDelivery`).
 */
export class RpcIdempotencyTransport implements IdempotencyTransport {
  private readonly handlerCache = new WeakMap<Function, HandlerSettings>();
  private readonly logger = new Logger('Idempotency');

  constructor(private readonly idempotency: IdempotencyService) {}

  async intercept(context: ExecutionContext, next: CallHandler): Promise<Observable<unknown>> {
    const settings = this.handlerSettings(context);
    const { options, route } = settings;
    // Made before any option callback runs, so a message whose key, scope or fingerprint cannot be worked out is
    // still settled (rejected), rather than left unacknowledged in a prefetch slot until its channel closes.
    const delivery = this.deliveryOf(context.getArgByIndex(1), settings);
    const identity = await identifyMessage(context, options, settings.pattern);
    if (identity.status === 'unkeyed') {
      // Runs unprotected: the handler's own settlement goes straight to the broker.
      delivery?.releaseHandlerSettlement(false);
      return next.handle();
    }
    if (identity.status === 'refused') {
      if (identity.outcome) {
        const source = { transport: 'rpc' as const, route, options };
        this.idempotency.emit({ outcome: identity.outcome, route, scope: identity.scope }, source);
      }
      return this.refuse(identity.refusal, settings, delivery);
    }

    let execution;
    try {
      execution = await this.idempotency.execute({
        id: identity.id,
        fingerprint: identity.fingerprint,
        route,
        transport: 'rpc',
        options,
        work: () => this.runHandler(next, delivery),
      });
    } catch (error) {
      return this.refuse(error, settings, delivery);
    }

    if (execution.kind === 'replayed') {
      delivery?.ack();
      const stored = execution.stored as StoredRpcReply;
      return 'value' in stored ? of(stored.value) : EMPTY;
    }
    const { result } = execution.settlement;
    // The protocol answered for the handler: it succeeded, then its transaction failed to commit or its lease
    // was taken over, so its writes were rolled back and its message must come back rather than be acked.
    const rolledBack = execution.kind === 'executed' ? execution.rolledBack : undefined;
    delivery?.releaseHandlerSettlement(rolledBack !== undefined && 'value' in rolledBack.result);
    if ('error' in result) {
      throw result.error instanceof IdempotencyError ? new IdempotencyRpcException(result.error) : result.error;
    }
    const values = result.value as unknown[];
    return values.length === 1 ? of(values[0]) : from(values);
  }

  /**
   * Runs the handler and keeps its reply: the one value it emitted (or none). A stream of several values is
   * sent as it came but not stored, as HTTP streams are not: a replay could not tell them apart from one reply.
   * A failure is not stored, so the key is released and a redelivery runs again.
   */
  private async runHandler(next: CallHandler, delivery: RmqDelivery | undefined): Promise<IdempotentSettlement> {
    let values: unknown[];
    try {
      values = await lastValueFrom(next.handle().pipe(toArray()));
    } catch (error) {
      return {
        result: { error },
        keep: { release: 'released', reason: describeError(error) },
      };
    }
    const result = { value: values };
    // A message its handler turned away (rejected for now, or requeued) is not done: a completed record would
    // have every later copy acked unrun, so one republished from the dead-letter queue, once its cause is fixed,
    // would be dropped. Its record is released (and, in the transactional mode, its writes rolled back).
    const rejection = delivery?.handlerRejection();
    if (rejection) {
      return {
        result,
        keep: { release: 'released', reason: `the handler settled its message by ${rejection}`, rollBack: true },
      };
    }
    if (values.length > 1) {
      return { result, keep: { release: 'not_stored', reason: `the handler emitted ${values.length} values` } };
    }
    const stored: StoredRpcReply = values.length === 1 ? { value: values[0] } : { none: true };
    return { result, keep: { store: stored } };
  }

  /**
   * Ends a message the protocol refused: a request's sender gets the refusal; an event's refusal, settled and logged
   * by `refusal`, completes the handler instead, since nobody hears it. Thrown, it would reach Nest, which from
   * NestJS 12 logs an event's `RpcException` that no filter takes as an ERROR: one per duplicate requeued while its
   * first copy runs, the protocol working as meant.
   */
  private refuse(refused: unknown, settings: HandlerSettings, delivery: RmqDelivery | undefined): Observable<never> {
    const error = this.refusal(refused, settings, delivery);
    if (settings.isEvent && error instanceof IdempotencyRpcException) return EMPTY;
    throw error;
  }

  /**
   * One of the protocol's refusals as the message's sender sees it (an `IdempotencyRpcException` carrying
   * `{ code, message, retryable }`), after settling the message under manual acknowledgement: back to the queue
   * when it may succeed later, rejected (to a dead-letter exchange, if any) when it never can.
   */
  private refusal(refused: unknown, settings: HandlerSettings, delivery: RmqDelivery | undefined): unknown {
    if (!(refused instanceof IdempotencyError)) return refused;
    const { route, options, isEvent } = settings;
    if (!refused.retryable) {
      delivery?.reject();
      this.logger.warn(
        `${route}: message refused, the handler did not run (${refused.code}): ${refused.message} [${settings.handlerName}]`,
      );
    } else if (delivery) {
      delivery.requeueAfter(options.retryAfter);
    } else if (isEvent) {
      // A request's sender gets the retryable code and may send again; an event's sender hears nothing.
      const hint =
        refused instanceof IdempotencyInProgressError
          ? 'set onConflict: { wait } to wait for the first delivery instead'
          : 'the idempotency store is unavailable';
      this.logger.warn(
        `${route}: event dropped (${refused.code}); nothing redelivers it without manual acknowledgement: ${hint}`,
      );
    }
    return new IdempotencyRpcException(refused);
  }

  /** The delivery to settle under manual acknowledgement on RabbitMQ; none elsewhere (NATS has no acks). */
  private deliveryOf(rpcContext: unknown, settings: HandlerSettings): RmqDelivery | undefined {
    if (!(rpcContext instanceof RmqContext)) return undefined;
    if (!settings.options.rmq.noAck) return new RmqDelivery(rpcContext, settings.route, this.logger);
    if (!settings.warnedManualAck) {
      watchForManualAck(rpcContext, () => {
        if (settings.warnedManualAck) return;
        settings.warnedManualAck = true;
        this.logger.warn(
          `${settings.route}: the handler acknowledged its message, so its RabbitMQ consumer acknowledges by hand ` +
            `(noAck: false), but the idempotency option "rmq" says noAck: true: set rmq: { noAck: false }, or the ` +
            `duplicates the library answers without running the handler stay unacknowledged`,
        );
      });
    }
    return undefined;
  }

  private handlerSettings(context: ExecutionContext): HandlerSettings {
    const handler = context.getHandler();
    let settings = this.handlerCache.get(handler);
    if (!settings) {
      const options = this.idempotency.handlers.optionsOf(context.getClass(), handler).resolved;
      const { patterns, isEvent } = messageHandlerPatterns(handler) ?? { patterns: [], isEvent: false };
      const pattern = patterns.join(', ');
      const handlerName = `${context.getClass().name}.${handler.name}`;
      settings = { options, route: `${isEvent ? 'event' : 'message'} ${pattern}`, handlerName, isEvent, pattern };
      this.handlerCache.set(handler, settings);
    }
    return settings;
  }
}
