import { Inject, Injectable, Logger } from '@nestjs/common';
import {
  createIdempotentFetch,
  idempotencyKeyFor,
  IdempotentClient,
  IdempotentRequestOutcomeUnknownError,
  IdempotentRequestRejectedError,
} from '@nest-idempotency/core/client';
import { ORDERS_CONFIG } from '../config/orders-config.module';
import { OrdersConfig } from '../config/orders-config';
import { Order } from '../orders/order.entity';

/** What the payments service said about an order's payment, once the call's budget is spent or earlier. */
export type PaymentOutcome =
  | { kind: 'paid'; paymentId: string }
  | { kind: 'declined'; reason: string }
  /** No definitive answer within the deadline: the payment may or may not exist; retry with `key`. */
  | { kind: 'unknown'; key: string; reason: string };

/** The key of an order's payment: derived from the order, so every try, restart and instance sends the same one. */
export function paymentKeyFor(orderId: string): string {
  return idempotencyKeyFor('payment', orderId);
}

/**
 * Pays orders at the payments service (`POST /payments`) through the library's client: the order's derived key,
 * the order id as the payment's `reference`, a body built from the stored order only (so every attempt, and every
 * later call for the same order, sends the same bytes), retried within PAYMENTS_DEADLINE_MS.
 */
@Injectable()
export class PaymentsClient {
  private readonly logger = new Logger(PaymentsClient.name);
  private readonly client: IdempotentClient;

  constructor(@Inject(ORDERS_CONFIG) config: OrdersConfig) {
    this.client = createIdempotentFetch({
      baseUrl: config.paymentsUrl,
      headers: { authorization: `Bearer ${config.paymentsApiKey}` },
      attemptTimeoutMs: config.paymentsAttemptTimeoutMs,
      deadlineMs: config.paymentsDeadlineMs,
      // The deadline is the bound that matters (how long POST /orders may wait); attempts only cap a burst of
      // instant failures (connection refused) within it.
      maxAttempts: 10,
    });
  }

  async pay(order: Order, signal?: AbortSignal): Promise<PaymentOutcome> {
    const body = { customerId: order.customerId, amount: order.amount, currency: order.currency, reference: order.id };
    try {
      const payment = await this.client.post<{ id: string }>('/payments', body, {
        key: paymentKeyFor(order.id),
        signal,
      });
      return { kind: 'paid', paymentId: payment.body.id };
    } catch (error) {
      if (error instanceof IdempotentRequestRejectedError && isRefusalOfTheShop(error)) {
        // Payments refused the shop's own credentials: that says nothing of this payment, and declining would be for
        // good. The order stays pending, and the recovery loop pays it once the key is fixed.
        this.logger.error(`Payments refused the shop's API key (${error.status}); order ${order.id} stays pending`);
        return { kind: 'unknown', key: error.key, reason: `payments answered ${error.status}` };
      }
      if (error instanceof IdempotentRequestRejectedError) return { kind: 'declined', reason: declineReason(error) };
      if (!(error instanceof IdempotentRequestOutcomeUnknownError)) throw error;
      this.logger.warn(`Payment of order ${order.id} still unknown (${error.message}); it stays pending`);
      return { kind: 'unknown', key: error.key, reason: error.reason };
    }
  }
}

/** 401 and 403 answer who is asking (PAYMENTS_API_KEY), not whether this payment can be made. */
function isRefusalOfTheShop(error: IdempotentRequestRejectedError): boolean {
  return error.status === 401 || error.status === 403;
}

/**
 * 402 is the customer's balance; any other definitive refusal (404 unknown customer, 409 the reference taken by
 * another payment, 422 the key used for another body) is named with the service's message.
 */
function declineReason(error: IdempotentRequestRejectedError): string {
  if (error.status === 402) return 'insufficient_funds';
  const message = (error.response.body as { message?: unknown } | undefined)?.message;
  const text = Array.isArray(message) ? message.join('; ') : String(message ?? '');
  return `payments answered ${error.status}: ${text}`.slice(0, 200);
}
