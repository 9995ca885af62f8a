import { RmqOptions, Transport } from '@nestjs/microservices';

/**
 * The RabbitMQ consumer of payment requests (AMQP_URL): Nest's RMQ message format on a durable queue, acknowledged
 * by hand once the payment's outcome is settled, one message at a time per instance so a slow payment does not
 * hold others behind it in this instance's prefetch buffer.
 */
export function paymentRequestsTransport(url: string, queue: string): RmqOptions {
  return {
    transport: Transport.RMQ,
    options: { urls: [url], queue, queueOptions: { durable: true }, noAck: false, prefetchCount: 10 },
  };
}
