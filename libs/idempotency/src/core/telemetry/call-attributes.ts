import type { Attributes } from '@opentelemetry/api';
import { CallSource } from './call-source';
import { storeKindOf } from '../../stores/store-kind';

/**
 * The attributes every instrument and span of a call carries. Each value is bounded (a transport, a route template,
 * a store kind): never a key, a scope or a principal, so series and span names stay few.
 */
export function callAttributes(source: CallSource): Attributes {
  return {
    'idempotency.transport': source.transport,
    'idempotency.route': source.route,
    'idempotency.store': storeKindOf(source.options.store),
  };
}

/** The name of an error's class, for `error.type`: bounded, and never the message, which may quote a value. */
export function errorType(error: unknown): string {
  if (error instanceof Error) return error.constructor?.name || error.name || 'Error';
  return typeof error;
}
