import { ArgumentsHost, Catch, HttpException, Logger } from '@nestjs/common';
import { BaseExceptionFilter } from '@nestjs/core';
import { STATUS_CODES } from 'node:http';

/** An error from the body parser ("http-errors"): it carries its own 4xx status. */
interface HttpError {
  statusCode: number;
  message: string;
  expose?: boolean;
}

/**
 * Gives every error response the API's one shape, `{statusCode, error, message}` (DESIGN.md §4): Nest's
 * own string-bodied exceptions and the body parser's 4xx (too large, bad charset) lack `error`. The body
 * parser's refusals are the client's doing, so they are logged as warnings, not as errors with a stack.
 */
@Catch()
export class ApiExceptionFilter extends BaseExceptionFilter {
  private readonly logger = new Logger('Http');

  catch(exception: unknown, host: ArgumentsHost): void {
    if (exception instanceof HttpException) {
      const status = exception.getStatus();
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
