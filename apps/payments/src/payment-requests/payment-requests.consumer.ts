import { Controller, ExecutionContext, HttpException, Inject, Logger, UseGuards } from '@nestjs/common';
import { Ctx, EventPattern, Payload, RmqContext, RpcException } from '@nestjs/microservices';
import { Propagation, TransactionHost } from '@nestjs-cls/transactional';
import { TransactionalAdapterTypeOrm } from '@nestjs-cls/transactional-adapter-typeorm';
import { plainToInstance } from 'class-transformer';
import { validate } from 'class-validator';
import { ClsGuard } from 'nestjs-cls';
import { setTimeout as sleep } from 'node:timers/promises';
import { Idempotent } from '@nest-idempotency/core';
import { APP_CONFIG } from '../config/app-config.module';
import { AppConfig } from '../config/app-config';
import { isDatabaseOutage } from '../database/database-outage';
import { OutageLog } from '../database/outage-log';
import { PaymentsService } from '../payments/payments.service';
import { PaymentRequestedMessage, PaymentRequestOutcome } from './payment-requested.message';

/** A merchant's message ids and another's never meet, as their HTTP keys do not. */
function merchantOfMessage(context: ExecutionContext): string | undefined {
  const merchantId = context.switchToRpc().getData<{ merchantId?: unknown }>()?.merchantId;
  return typeof merchantId === 'string' ? merchantId : undefined;
}

/** How long a message that failed for a passing reason (database down) waits before it goes back to the queue. */
const REQUEUE_DELAY_MS = 1_000;

/**
 * `payment.requested` from RabbitMQ: the AMQP `messageId` is the idempotency key, so a redelivered or republished
 * request is charged once. A business refusal (unknown customer, balance too low, reference taken) is an outcome,
 * stored and acknowledged like a payment; a message that is not valid here is rejected (to a dead-letter
 * exchange, if the queue has one) and leaves no record, so once its cause is fixed (the merchant onboarded, a rule
 * relaxed) the same message republished runs; a passing failure goes back to the queue and runs again. Its message
 * ids live apart from the merchant's HTTP keys (the library's default `messageKeySpace: 'separate'`).
 */
@Controller()
@UseGuards(ClsGuard) // @Transactional() needs a CLS context; HTTP gets it from middleware, messages from here
export class PaymentRequestsConsumer {
  private readonly logger = new Logger('PaymentRequests');
  private readonly outage = new OutageLog(this.logger, 'payment requests (requeued)');

  constructor(
    private readonly payments: PaymentsService,
    private readonly txHost: TransactionHost<TransactionalAdapterTypeOrm>,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  @EventPattern('payment.requested')
  @Idempotent({ scope: merchantOfMessage, rmq: { noAck: false } })
  async handle(@Payload() data: unknown, @Ctx() context: RmqContext): Promise<PaymentRequestOutcome | undefined> {
    const channel = context.getChannelRef();
    const message = context.getMessage();
    const request = await this.validRequest(data);
    if (typeof request === 'string') {
      this.logger.warn(`payment request ${message.properties.messageId} rejected: ${request}`);
      channel.nack(message, false, false);
      return undefined;
    }
    try {
      // A savepoint: a refusal takes back the reference the payment claimed, and the outcome still commits.
      const payment = await this.txHost.withTransaction(Propagation.Nested, () =>
        this.payments.pay(request.merchantId, request),
      );
      channel.ack(message);
      this.outage.recovered();
      return { outcome: 'paid', paymentId: payment.id };
    } catch (error) {
      if (error instanceof HttpException && error.getStatus() < 500) {
        channel.ack(message);
        return { outcome: 'refused', status: error.getStatus(), reason: error.message };
      }
      const outage = isDatabaseOutage(error);
      const failure = `payment request ${message.properties.messageId} failed, requeued: ${String(error)}`;
      if (outage) this.outage.failed(failure);
      else this.logger.error(failure);
      await sleep(REQUEUE_DELAY_MS);
      channel.nack(message, false, true);
      // Nest logs what a handler throws, with its stack, unless it is an RpcException: an outage has its lines above.
      throw outage ? new RpcException({ message: 'database unavailable, requeued', retryable: true }) : error;
    }
  }

  /** The request, or why it can never be one. */
  private async validRequest(data: unknown): Promise<PaymentRequestedMessage | string> {
    if (typeof data !== 'object' || data === null || Array.isArray(data)) return 'data is not an object';
    const request = plainToInstance(PaymentRequestedMessage, data);
    const errors = await validate(request, { whitelist: true, forbidNonWhitelisted: true });
    if (errors.length > 0) {
      return errors.flatMap((error) => Object.values(error.constraints ?? {})).join('; ');
    }
    if (!this.config.apiKeys.has(request.merchantId)) return `unknown merchant "${request.merchantId}"`;
    return request;
  }
}
