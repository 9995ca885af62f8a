import { ExecutionContext } from '@nestjs/common';
import { NatsContext, RmqContext } from '@nestjs/microservices';
import { parseIdempotencyKey, parseIdempotencyKeyHeader, ParsedIdempotencyKey } from '../core/idempotency-key';
import { ResolvedIdempotencyOptions } from '../idempotency-options.interface';

/** A message's key as read, and what to call it in a refusal ("the {name} is required"). */
export interface MessageKey {
  parsed: ParsedIdempotencyKey;
  name: string;
}

/**
 * Reads a message's key: the `key` option when set; on RabbitMQ the AMQP `messageId` property, else the
 * `headerName` header; on NATS the `headerName` header. Other transports carry no key of their own, so their
 * handlers need the `key` option (or `required: false`).
 */
export function readMessageKey(
  context: ExecutionContext,
  rpcContext: unknown,
  options: ResolvedIdempotencyOptions,
): MessageKey {
  if (options.key) return fromKeyOption(context, options.key);
  if (rpcContext instanceof RmqContext) {
    const name = `idempotency key (the AMQP messageId property or the ${options.headerName} header)`;
    const properties = rpcContext.getMessage().properties ?? {};
    const messageId: unknown = properties.messageId;
    if (messageId !== undefined && messageId !== null && messageId !== '') {
      return { parsed: parseIdempotencyKey(headerText(messageId)), name };
    }
    return { parsed: fromHeaderTable(properties.headers, options.headerName), name };
  }
  if (rpcContext instanceof NatsContext) {
    return {
      parsed: fromNatsHeaders(rpcContext.getHeaders(), options.headerName),
      name: `${options.headerName} header`,
    };
  }
  return { parsed: { status: 'missing' }, name: 'idempotency key (set the "key" option for this transport)' };
}

function fromKeyOption(context: ExecutionContext, key: NonNullable<ResolvedIdempotencyOptions['key']>): MessageKey {
  const name = 'idempotency key';
  let value: unknown;
  try {
    value = key(context);
  } catch (error) {
    return { parsed: { status: 'invalid', reason: `the "key" option threw: ${describe(error)}` }, name };
  }
  if (value !== undefined && typeof value !== 'string') {
    return { parsed: { status: 'invalid', reason: `the "key" option returned a ${typeof value}, not a string` }, name };
  }
  return { parsed: parseIdempotencyKey(value), name };
}

/** AMQP header tables are case-sensitive; the header is matched as HTTP matches it, whatever its case. */
function fromHeaderTable(headers: Record<string, unknown> | undefined, headerName: string): ParsedIdempotencyKey {
  if (!headers) return { status: 'missing' };
  const wanted = headerName.toLowerCase();
  const values: string[] = [];
  for (const name of Object.keys(headers)) {
    if (name.toLowerCase() === wanted) values.push(headerText(headers[name]));
  }
  return parseIdempotencyKeyHeader(values);
}

/** NATS headers (`MsgHdrs`): every value of every spelling of the name, so one sent twice is refused. */
function fromNatsHeaders(headers: any, headerName: string): ParsedIdempotencyKey {
  if (!headers || typeof headers.keys !== 'function') return { status: 'missing' };
  const wanted = headerName.toLowerCase();
  const values: string[] = [];
  for (const name of headers.keys() as string[]) {
    if (name.toLowerCase() === wanted) values.push(...(headers.values(name) as string[]));
  }
  return parseIdempotencyKeyHeader(values);
}

/**
 * AMQP carries strings as strings, but a producer may send bytes or a number; those are read as text so the
 * key's own rules (visible ASCII, 1-255 characters) decide, rather than a type check with a vaguer message.
 */
function headerText(value: unknown): string {
  if (typeof value === 'string') return value;
  if (Buffer.isBuffer(value)) return value.toString('utf8');
  return String(value);
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
