import { Channel, ChannelModel, connect } from 'amqplib';
import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import request from 'supertest';
import { prometheusSamples } from '../support/prometheus-text';
import { TEST_SERVICES } from '../support/services';

/** One `payment.requested` message's data, as the sample consumer reads it (merchant m1 of the harness). */
export interface PaymentRequest {
  merchantId: string;
  customerId: string;
  amount: number;
  currency: string;
  reference: string;
}

export function paymentRequest(customerId: string, amount: number): PaymentRequest {
  return { merchantId: 'm1', customerId, amount, currency: 'EUR', reference: `req-${randomUUID()}` };
}

/** A throwaway queue of the sample consumer on the local RabbitMQ: publishes as Nest's client does, then deletes it. */
export class PaymentRequestQueue {
  readonly name = `payment-requests-faults-${randomUUID()}`;

  private constructor(
    private readonly broker: ChannelModel,
    private readonly channel: Channel,
  ) {}

  static async open(): Promise<PaymentRequestQueue> {
    const broker = await connect(TEST_SERVICES.rabbitmq);
    return new PaymentRequestQueue(broker, await broker.createChannel());
  }

  /** Publishes `data`, keyed by its AMQP messageId (the reference, so a test can follow it). */
  publish(data: PaymentRequest): void {
    this.channel.sendToQueue(this.name, Buffer.from(JSON.stringify({ pattern: 'payment.requested', data })), {
      messageId: data.reference,
      persistent: true,
      contentType: 'application/json',
    });
  }

  /** Messages waiting in the queue (not those delivered and not yet settled). */
  async ready(): Promise<number> {
    return (await this.channel.checkQueue(this.name)).messageCount;
  }

  async dispose(): Promise<void> {
    await this.channel.deleteQueue(this.name).catch(() => undefined);
    await this.broker.close().catch(() => undefined);
  }
}

/** How many payment rows each reference has, read straight from the database (not through the app). */
export async function paymentRows(database: Client, references: string[]): Promise<number[]> {
  const { rows } = await database.query<{ reference: string }>(
    'SELECT reference FROM payments WHERE reference = ANY($1)',
    [references],
  );
  return references.map((reference) => rows.filter((row) => row.reference === reference).length);
}

export async function balanceOf(database: Client, customerId: string): Promise<number> {
  const { rows } = await database.query<{ balance: string }>('SELECT balance FROM customers WHERE id = $1', [
    customerId,
  ]);
  return Number(rows[0].balance);
}

/**
 * The ERROR and WARN entries of a Nest app's output (colours stripped), and any line a library printed as
 * unhandled: what an operator's log search for trouble would show. Stack traces are part of their entry.
 */
export function troubleLines(output: string): string[] {
  // eslint-disable-next-line no-control-regex
  const plain = output.replace(/\x1b\[[0-9;]*m/g, '');
  return plain.split('\n').filter((line) => /^\[Nest\] \d+ .*? (ERROR|WARN) \[/.test(line) || /Unhandled/.test(line));
}

/** An app's count of `payment.requested` deliveries by idempotency outcome, from its /metrics. */
export async function consumerOutcomes(url: string): Promise<Record<string, number>> {
  const text = (await request(url).get('/metrics')).text;
  const counts: Record<string, number> = {};
  for (const { labels, value } of prometheusSamples(text, 'idempotency_requests_total', {
    idempotency_route: 'event payment.requested',
  })) {
    counts[labels.idempotency_outcome] = (counts[labels.idempotency_outcome] ?? 0) + value;
  }
  return counts;
}
