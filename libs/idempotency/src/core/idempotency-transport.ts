import { CallHandler, ExecutionContext } from '@nestjs/common';
import { Observable } from 'rxjs';

/**
 * One transport's side of `@Idempotent()`: reads the key, fingerprint and scope from its own kind of call, runs
 * the handler through `IdempotencyService.execute()`, and answers the protocol's outcomes (replay, refusals) in
 * its own terms. `IdempotencyInterceptor` picks one by `context.getType()`.
 */
export interface IdempotencyTransport {
  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> | Promise<Observable<unknown>>;
}
