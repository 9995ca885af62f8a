import { CallHandler, ExecutionContext, Injectable, NestInterceptor } from '@nestjs/common';
import { Observable, tap } from 'rxjs';
import { IdempotencyService } from '@nest-idempotency/core';
import { dieIf, KILL_HEADER } from './kill-points';

/**
 * Registered globally, so it wraps `@Idempotent()`'s interceptor: its `tap` runs once that interceptor has
 * committed (transactional mode) and before Nest writes the response; `finish` fires after it is written.
 */
@Injectable()
export class KillPointInterceptor implements NestInterceptor {
  constructor(private readonly idempotency: IdempotencyService) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const request = context.switchToHttp().getRequest();
    const response = context.switchToHttp().getResponse();
    const killAt: string | undefined = request.headers[KILL_HEADER];
    response.on('finish', () => dieIf(killAt, 'after-response'));
    return next.handle().pipe(
      tap(() => {
        if (this.idempotency.defaults.transactional) dieIf(killAt, 'after-commit');
      }),
    );
  }
}
