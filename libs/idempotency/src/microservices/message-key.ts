import { ExecutionContext } from '@nestjs/common';
import { NatsContext, RmqContext } from '@nestjs/microservices';
import { parseIdempotencyKey, parseIdempotencyKeyHeader, ParsedIdempotencyKey } from '../core/idempotency-key';
import { ResolvedIdempotencyOptions } from '../options/idempotency-options.interface';
import { describeError } from '../util/describe-error';

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
export async function readMessageKey(
  context: ExecutionContext,
  rpcContext: unknown,
  options: ResolvedIdempotencyOptions,
): Promise<MessageKey> {
  if (options.key) return fromKeyOption(context, options.key);
  if (rpcContext instanceof RmqContext) {
    const name = `idempotency key (the AMQP messageId property or the ${options.headerName} header)`;
    const properties = rpcContext.getMessage().properties ?? {};
    const messageId: unknown = properties.messageId;
    if (messageId !== undefined && messageId !== null && messageId !== '') {
      return { parsed: keyOfValue(messageId, 'messageId property'), name };
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

async function fromKeyOption(
  context: ExecutionContext,
  key: NonNullable<ResolvedIdempotencyOptions['key']>,
): Promise<MessageKey> {
  const name = 'idempotency key';
  let value: unknown;
  try {
    value = await key(context);
  } catch (error) {
    return { parsed: { status: 'invalid', reason: `the "key" option threw: ${describeError(error)}` }, name };
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
  const values: unknown[] = [];
  for (const name of Object.keys(headers)) {
    if (name.toLowerCase() === wanted) values.push(headers[name]);
  }
  // Counted before the type check: a header sent twice is refused as such, whatever its values' types.
  if (values.length > 1) return { status: 'invalid', reason: 'the header was sent more than once' };
  return values.length === 0 ? { status: 'missing' } : keyOfValue(values[0], 'header');
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
 * A key as AMQP carried it: a string, or bytes (a byte-array header) read as UTF-8 text. Anything else (a
 * number, a boolean, a table, a timestamp) is refused rather than turned into text: `42` and `"42"` would
 * otherwise be one key, and a table's text (`[object Object]`) would make every such message one key.
 */
function keyOfValue(value: unknown, what: string): ParsedIdempotencyKey {
  if (typeof value === 'string') return parseIdempotencyKey(value);
  if (Buffer.isBuffer(value)) return parseIdempotencyKey(value.toString('utf8'));
  const type = value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value;
  return { status: 'invalid', reason: `the ${what} is a ${type}, not a string` };
}
