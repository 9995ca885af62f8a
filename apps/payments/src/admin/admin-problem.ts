import { ArgumentsHost, Catch, ExceptionFilter, HttpException } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { STATUS_CODES } from 'node:http';
import { PROBLEM_JSON_CONTENT_TYPE } from '@nest-idempotency/core';

/** An RFC 9457 problem details body, as the admin routes answer a record they cannot show or forget. */
export interface AdminProblem {
  type: string;
  title: string;
  status: number;
  detail: string;
}

/** An admin route's refusal, answered as `application/problem+json` by `AdminProblemFilter`. */
export class AdminProblemException extends HttpException {
  readonly problem: AdminProblem;

  constructor(status: number, detail: string) {
    // about:blank: the status says it all, so the title is the status's own phrase (RFC 9457, section 4.2.1).
    const problem = { type: 'about:blank', title: STATUS_CODES[status] ?? 'Error', status, detail };
    super(problem, status);
    this.problem = problem;
  }
}

/**
 * Writes `AdminProblemException` as `application/problem+json`; Express's adapter would reset the content type of
 * an error body to `application/json`. Every other error goes on to the app's own filter.
 */
@Catch(AdminProblemException)
export class AdminProblemFilter implements ExceptionFilter<AdminProblemException> {
  constructor(private readonly adapterHost: HttpAdapterHost) {}

  catch(exception: AdminProblemException, host: ArgumentsHost): void {
    const adapter = this.adapterHost.httpAdapter;
    const response = host.switchToHttp().getResponse();
    adapter.status(response, exception.problem.status);
    adapter.setHeader(response, 'Content-Type', PROBLEM_JSON_CONTENT_TYPE);
    adapter.reply(response, JSON.stringify(exception.problem));
  }
}
