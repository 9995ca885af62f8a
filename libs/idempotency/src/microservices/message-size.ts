import { RmqContext } from '@nestjs/microservices';

/**
 * A message's size in bytes when it is over `maxBytes`, else undefined. Canonicalising and hashing a payload
 * block the event loop for as long as the payload is large, so the bound is checked first and cheaply: on
 * RabbitMQ by the raw content's length, elsewhere by a walk of the payload that stops once it passes the bound.
 */
export function messageSizeOver(rpcContext: unknown, payload: unknown, maxBytes: number): number | undefined {
  if (rpcContext instanceof RmqContext) {
    const content: unknown = rpcContext.getMessage()?.content;
    if (Buffer.isBuffer(content)) return content.length > maxBytes ? content.length : undefined;
  }
  return payloadSizeOver(payload, maxBytes);
}

/**
 * A parsed payload's size when over `maxBytes`, roughly as JSON would take it (strings by length, numbers as 8,
 * a byte or more per member), else undefined. Every step adds at least one byte, so the walk takes at most
 * `maxBytes` steps whatever the payload (a reference cycle included), and a huge one is refused early.
 */
export function payloadSizeOver(payload: unknown, maxBytes: number): number | undefined {
  let size = 0;
  const pending: unknown[] = [payload];
  while (pending.length > 0) {
    const value = pending.pop();
    if (typeof value === 'string') size += value.length + 2;
    else if (ArrayBuffer.isView(value)) size += value.byteLength + 2;
    else if (typeof value !== 'object' || value === null) size += 8;
    else {
      size += 2;
      for (const key in value) {
        size += key.length + 4;
        if (size > maxBytes) return size;
        pending.push((value as Record<string, unknown>)[key]);
      }
    }
    if (size > maxBytes) return size;
  }
  return undefined;
}
