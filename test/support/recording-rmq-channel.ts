/** A RabbitMQ channel for unit specs: records the settlements it is asked for, as amqplib's would send them. */
export function recordingChannel() {
  const sent: Array<[string, unknown, ...unknown[]]> = [];
  const channel = {
    ack: (message: unknown, ...args: unknown[]) => sent.push(['ack', message, ...args]),
    nack: (message: unknown, ...args: unknown[]) => sent.push(['nack', message, ...args]),
    reject: (message: unknown, ...args: unknown[]) => sent.push(['reject', message, ...args]),
    prefetch: (count: number) => count,
  };
  return { channel, sent };
}
