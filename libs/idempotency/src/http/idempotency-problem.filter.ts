import { ArgumentsHost, Catch, ExceptionFilter } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { IdempotencyProblemException, PROBLEM_JSON_CONTENT_TYPE } from './problem-details';

/**
 * Writes a refusal the interceptor turned into problem details (`errorFormat: 'problem+json'`) as
 * `application/problem+json`. Nest's default filter would not: Express's adapter resets any other content type
 * of an error body to `application/json`. It catches nothing else, so every other error reaches the
 * application's own filters as before. Applied by `@Idempotent()`.
 */
@Catch(IdempotencyProblemException)
export class IdempotencyProblemFilter implements ExceptionFilter<IdempotencyProblemException> {
  constructor(private readonly adapterHost: HttpAdapterHost) {}

  catch(exception: IdempotencyProblemException, host: ArgumentsHost): void {
    const adapter = this.adapterHost.httpAdapter;
    const response = host.getArgByIndex(1);
    if (adapter.isHeadersSent(response)) {
      adapter.end(response);
      return;
    }
    adapter.status(response, exception.problem.status);
    adapter.setHeader(response, 'Content-Type', PROBLEM_JSON_CONTENT_TYPE);
    // Already serialised, so neither adapter picks a JSON content type of its own.
    adapter.reply(response, JSON.stringify(exception.problem));
  }
}
