import { ExecutionContext } from '@nestjs/common';
import { fingerprintMessage } from '../core/fingerprint';
import { UnselectablePayloadError } from '../core/payload-selection';
import {
  IdempotencyError,
  IdempotencyKeyInvalidError,
  IdempotencyKeyMissingError,
  IdempotencyOptionError,
  IdempotencyPayloadError,
} from '../core/idempotency.errors';
import { IDEMPOTENCY_MESSAGE_NAMESPACE_SUFFIX } from '../options/idempotency.constants';
import { ResolvedIdempotencyOptions } from '../options/idempotency-options.interface';
import { IdempotencyRecordId } from '../stores/idempotency-store';
import { scopeOf } from '../core/option-callbacks';
import { readMessageKey } from './message-key';
import { messageSizeOver } from './message-size';
import { describeError } from '../util/describe-error';

/**
 * What a message is to the protocol: its record and fingerprint; or unkeyed (no key, none required: it runs
 * unprotected); or refused, with the refusal and the event outcome to count it under, if any.
 */
export type MessageIdentity =
  | { status: 'identified'; id: IdempotencyRecordId; fingerprint: string }
  | { status: 'unkeyed' }
  | { status: 'refused'; refusal: IdempotencyError; scope: string; outcome?: 'missing_key' | 'invalid_key' };

/**
 * Works out a message's key, scope and fingerprint. Never throws: whatever fails (an option callback that throws
 * or rejects, a payload over `maxMessageBytes`, too deep to canonicalise, or not an object where
 * `fingerprint.include`/`exclude` select fields of one) is a refusal, so the transport can settle the message
 * instead of leaving it unacknowledged. `pattern` is the one fingerprinted when the transport does not say which
 * pattern the message came by.
 */
export async function identifyMessage(
  context: ExecutionContext,
  options: ResolvedIdempotencyOptions,
  pattern: string,
): Promise<MessageIdentity> {
  const payload: unknown = context.getArgByIndex(0);
  const rpcContext: unknown = context.getArgByIndex(1);
  const { parsed, name } = await readMessageKey(context, rpcContext, options);
  if (parsed.status === 'missing' && !options.required) return { status: 'unkeyed' };

  const bytes = messageSizeOver(rpcContext, payload, options.maxMessageBytes);
  if (bytes !== undefined) {
    const reason = `it takes ${bytes} bytes, over maxMessageBytes (${options.maxMessageBytes})`;
    return {
      status: 'refused',
      refusal: new IdempotencyPayloadError('IDEMPOTENCY_PAYLOAD_TOO_LARGE', reason),
      scope: '',
    };
  }
  let scope: string;
  try {
    // A message has no principal: its scope is none unless the option says otherwise.
    scope = (await scopeOf(options.scope, context)) ?? '';
  } catch (error) {
    return { status: 'refused', refusal: error as IdempotencyOptionError, scope: '' };
  }
  if (parsed.status === 'missing') {
    return { status: 'refused', refusal: new IdempotencyKeyMissingError(name), scope, outcome: 'missing_key' };
  }
  if (parsed.status === 'invalid') {
    return {
      status: 'refused',
      refusal: new IdempotencyKeyInvalidError(parsed.reason, name),
      scope,
      outcome: 'invalid_key',
    };
  }

  let fingerprint: string;
  try {
    fingerprint = fingerprintMessage(receivedPattern(rpcContext) ?? pattern, payload, options.fingerprintSelection);
  } catch (error) {
    // A payload nested thousands deep overflows the canonical form; a getter or toJSON that throws fails it too, and
    // so does a string or Buffer payload on a handler that selects fields of an object.
    const reason =
      error instanceof RangeError
        ? 'it is nested too deeply'
        : error instanceof UnselectablePayloadError
          ? error.message
          : `it failed: ${describeError(error)}`;
    return { status: 'refused', refusal: new IdempotencyPayloadError('IDEMPOTENCY_PAYLOAD_UNREADABLE', reason), scope };
  }
  const namespace =
    options.messageKeySpace === 'shared' ? options.keyPrefix : options.keyPrefix + IDEMPOTENCY_MESSAGE_NAMESPACE_SUFFIX;
  return { status: 'identified', id: { namespace, scope, key: parsed.key }, fingerprint };
}

/** The pattern (or subject) a message came by, where the transport says: the same key sent elsewhere differs. */
function receivedPattern(rpcContext: any): string | undefined {
  const pattern = rpcContext?.getPattern?.() ?? rpcContext?.getSubject?.();
  return typeof pattern === 'string' ? pattern : undefined;
}
