import { Inject, Injectable, Logger } from '@nestjs/common';
import { setTimeout as sleep } from 'node:timers/promises';
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
  return `order-payment:${orderId}`;
}

/**
 * Pays orders at the payments service (`POST /payments`), with the order's derived key and the order id as the
 * payment's `reference`; the body is built from the stored order only, so every attempt sends the same bytes.
 */
@Injectable()
export class PaymentsClient {
  private readonly logger = new Logger(PaymentsClient.name);

  constructor(@Inject(ORDERS_CONFIG) private readonly config: OrdersConfig) {}

  async pay(order: Order, signal?: AbortSignal): Promise<PaymentOutcome> {
    const key = paymentKeyFor(order.id);
    const body = JSON.stringify({
      customerId: order.customerId,
      amount: order.amount,
      currency: order.currency,
      reference: order.id,
    });
    const deadline = Date.now() + this.config.paymentsDeadlineMs;
    let reason = 'no attempt made';
    for (let attempt = 0; Date.now() < deadline && !signal?.aborted; attempt++) {
      let response: Response;
      let text: string;
      try {
        const timeout = AbortSignal.timeout(Math.min(this.config.paymentsAttemptTimeoutMs, deadline - Date.now()));
        response = await fetch(`${this.config.paymentsUrl}/payments`, {
          method: 'POST',
          headers: {
            authorization: `Bearer ${this.config.paymentsApiKey}`,
            'content-type': 'application/json',
            'idempotency-key': key,
          },
          body,
          signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
        });
        text = await response.text();
      } catch (error) {
        reason = `no answer (${error instanceof Error ? ((error.cause as Error | undefined)?.message ?? error.message) : String(error)})`;
        await this.pause(attempt, null, deadline, signal);
        continue;
      }
      const outcome = definitive(response.status, text, response.headers.get('retry-after'));
      if (outcome) return outcome;
      reason = `${response.status} ${text.slice(0, 200)}`;
      await this.pause(attempt, response.headers.get('retry-after'), deadline, signal);
    }
    this.logger.warn(`Payment of order ${order.id} still unknown (${reason}); it stays pending`);
    return { kind: 'unknown', key, reason };
  }

  private async pause(
    attempt: number,
    retryAfter: string | null,
    deadline: number,
    signal?: AbortSignal,
  ): Promise<void> {
    const hinted = retryAfter && /^\d+$/.test(retryAfter) ? Number(retryAfter) * 1000 : 0;
    const backoff = Math.random() * Math.min(2_000, 100 * 2 ** attempt);
    const wait = Math.min(Math.max(hinted, backoff), deadline - Date.now());
    if (wait > 0) await sleep(wait, undefined, { signal }).catch(() => undefined);
  }
}

/** The definitive answers; anything else (5xx, 409 in progress, 429) is retried with the same key. */
function definitive(status: number, text: string, retryAfter: string | null): PaymentOutcome | undefined {
  if (status === 201) return { kind: 'paid', paymentId: (JSON.parse(text) as { id: string }).id };
  if (status === 402) return { kind: 'declined', reason: 'insufficient_funds' };
  if (status === 409 && retryAfter !== null) return undefined;
  if (status === 429) return undefined;
  if (status >= 400 && status < 500)
    return { kind: 'declined', reason: `payments answered ${status}: ${message(text)}` };
  return undefined;
}

function message(text: string): string {
  try {
    const parsed = JSON.parse(text) as { message?: unknown };
    return String(Array.isArray(parsed.message) ? parsed.message.join('; ') : parsed.message).slice(0, 150);
  } catch {
    return text.slice(0, 150);
  }
}
