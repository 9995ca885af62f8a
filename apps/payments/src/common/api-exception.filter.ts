import { ArgumentsHost, Catch, HttpException, HttpStatus, Logger } from '@nestjs/common';
import { AbstractHttpAdapter, BaseExceptionFilter } from '@nestjs/core';
import { STATUS_CODES } from 'node:http';
import { isDatabaseOutage } from '../database/database-outage';

/**
 * `Retry-After` of a 503 that carries none: outages here are bounded waits (a lock, the pool, a reconnect), so a
 * retry a second later has a fair chance, and the idempotency key makes it safe.
 */
export const OUTAGE_RETRY_AFTER_SECONDS = 1;

/** An error from the body parser ("http-errors"): it carries its own 4xx status. */
interface HttpError {
  statusCode: number;
  message: string;
  expose?: boolean;
}

/**
 * Gives every error response the API's one shape, `{statusCode, error, message}` (README, The payments app): Nest's
 * own string-bodied exceptions and the body parser's 4xx (too large, bad charset) lack `error`. The body
 * parser's refusals are the client's doing, so they are logged as warnings, not as errors with a stack.
 * A database outage in a handler (a lost connection, a lock or statement bound that ran out, SQLITE_BUSY) is
 * a retryable 503, not a 500; every 503 tells the client when to retry.
 */
@Catch()
export class ApiExceptionFilter extends BaseExceptionFilter {
  private readonly logger = new Logger('Http');

  catch(exception: unknown, host: ArgumentsHost): void {
    if (isDatabaseOutage(exception)) {
      this.logger.warn(
        `Database outage, answered 503: ${exception instanceof Error ? exception.message : String(exception)}`,
      );
      exception = new HttpException(
        {
          statusCode: HttpStatus.SERVICE_UNAVAILABLE,
          error: STATUS_CODES[HttpStatus.SERVICE_UNAVAILABLE],
          message: 'The database is unavailable or busy. Retry with the same Idempotency-Key.',
        },
        HttpStatus.SERVICE_UNAVAILABLE,
      );
    }
    if (exception instanceof HttpException) {
      const status = exception.getStatus();
      if (status === HttpStatus.SERVICE_UNAVAILABLE) this.adviseRetry(host);
      const response = exception.getResponse();
      const body = typeof response === 'object' ? response : { statusCode: status, message: response };
      return super.catch(new HttpException({ statusCode: status, error: STATUS_CODES[status], ...body }, status), host);
    }
    if (isClientHttpError(exception)) {
      const { statusCode, message } = exception;
      this.logger.warn(`Refused a request body: ${statusCode} ${message}`);
      return super.catch(new HttpException({ statusCode, error: STATUS_CODES[statusCode], message }, statusCode), host);
    }
    super.catch(exception, host);
  }

  private adviseRetry(host: ArgumentsHost): void {
    const adapter = (this.applicationRef ?? this.httpAdapterHost?.httpAdapter) as AbstractHttpAdapter | undefined;
    const response = host.switchToHttp().getResponse();
    if (adapter && !adapter.getHeader(response, 'Retry-After'))
      adapter.setHeader(response, 'Retry-After', String(OUTAGE_RETRY_AFTER_SECONDS));
  }
}

function isClientHttpError(error: unknown): error is HttpError {
  const candidate = error as Partial<HttpError> | null;
  return (
    typeof candidate?.statusCode === 'number' &&
    candidate.statusCode >= 400 &&
    candidate.statusCode < 500 &&
    typeof candidate.message === 'string' &&
    candidate.expose !== false
  );
}
