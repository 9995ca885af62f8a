import { IDEMPOTENCY_DEFAULT_HEADER } from '../options/idempotency.constants';
import { checkIdempotencyKey } from './idempotency-key-for';
import { natsClientPackage } from './nats-client-package';

/** An `RmqRecord` of `@nestjs/microservices`, as `ClientProxy.send`/`emit` take it. */
export interface IdempotentRmqRecord<T> {
  readonly data: T;
  options?: { messageId?: string } & Record<string, unknown>;
}

/** A `NatsRecord` of `@nestjs/microservices`, as `ClientProxy.send`/`emit` take it. */
export interface IdempotentNatsRecord<T> {
  readonly data: T;
  readonly headers?: unknown;
}

/** The part of a `nats` `MsgHdrs` this helper uses. */
export interface NatsHeadersLike {
  set(name: string, value: string): void;
}

/**
 * A RabbitMQ message whose AMQP `messageId` is the key, built with `RmqRecordBuilder`: an `@Idempotent()` consumer
 * reads it there. Send it as many times as needed (a publish that may have been lost, a restart): it runs once.
 * Loads `@nestjs/microservices` when called; `options` are the record's other AMQP properties.
 */
export function idempotentRmqRecord<T>(
  data: T,
  key: string,
  options: Record<string, unknown> = {},
): IdempotentRmqRecord<T> {
  const messageId = checkIdempotencyKey(key);
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { RmqRecordBuilder }: typeof import('@nestjs/microservices') = require('@nestjs/microservices');
  return new RmqRecordBuilder(data).setOptions({ ...options, messageId }).build() as IdempotentRmqRecord<T>;
}

/**
 * A NATS message carrying the key in its `Idempotency-Key` header, built with `NatsRecordBuilder`: an `@Idempotent()`
 * consumer reads it there. `headers` (a `MsgHdrs` of the NATS client Nest uses) are added to, else made with that
 * client's `headers()`. Loads `@nestjs/microservices` (and the NATS client when no headers are given) when called.
 */
export function idempotentNatsRecord<T>(data: T, key: string, headers?: NatsHeadersLike): IdempotentNatsRecord<T> {
  const checked = checkIdempotencyKey(key);
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { NatsRecordBuilder }: typeof import('@nestjs/microservices') = require('@nestjs/microservices');
  const natsHeaders: NatsHeadersLike =
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    headers ?? (require(natsClientPackage()) as { headers: () => NatsHeadersLike }).headers();
  natsHeaders.set(IDEMPOTENCY_DEFAULT_HEADER, checked);
  return new NatsRecordBuilder(data).setHeaders(natsHeaders).build() as IdempotentNatsRecord<T>;
}
