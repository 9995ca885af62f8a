import { RpcException } from '@nestjs/microservices';
import { IdempotencyError, IdempotencyErrorCode } from '../core/idempotency.errors';

/** A refusal as a message client receives it: `ClientProxy.send()` errors with this object. */
export interface IdempotencyRpcError {
  code: IdempotencyErrorCode;
  message: string;
  /** Whether the same message may succeed later unchanged (in progress, store unavailable). */
  retryable: boolean;
}

/**
 * What `@Idempotent()` on a `@MessagePattern`/`@EventPattern` handler throws when it refuses a message (the
 * handler did not run). Under manual acknowledgement (`rmq: { noAck: false }`) the library has already
 * acknowledged or rejected the message, so an exception filter that settles messages must skip this one.
 */
export class IdempotencyRpcException extends RpcException {
  constructor(readonly refusal: IdempotencyError) {
    super({ code: refusal.code, message: refusal.message, retryable: refusal.retryable } satisfies IdempotencyRpcError);
  }

  override getError(): IdempotencyRpcError {
    return super.getError() as IdempotencyRpcError;
  }
}
