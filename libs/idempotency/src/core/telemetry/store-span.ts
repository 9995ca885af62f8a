import { IdempotentCall } from '../idempotent-call';
import { StoreOperation } from './call-source';
import { CallTracing } from './call-tracing';

/** Sends a store call of `call` in its own child span when tracing is on, else just sends it. */
export function inStoreSpan<T>(
  tracing: CallTracing | undefined,
  call: IdempotentCall,
  operation: StoreOperation,
  send: () => Promise<T>,
): Promise<T> {
  return tracing ? tracing.storeCall(call, operation, send) : send();
}
