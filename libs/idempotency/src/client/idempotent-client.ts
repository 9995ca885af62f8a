import { IdempotentClientOptions, IdempotentRequest, IdempotentResponse, resolveRetryOptions } from './client.options';
import { SendAttempt, sendIdempotent } from './send-idempotent';

/** What both front ends return: the same calls, options and behaviour over `fetch` or Nest's `HttpService`. */
export interface IdempotentClient {
  /** Sends one call, retrying as the retry table says; a definitive answer below 400, or a typed error. */
  request<T = unknown>(request: IdempotentRequest): Promise<IdempotentResponse<T>>;
  /** `request` with `method: 'POST'`. */
  post<T = unknown>(
    url: string,
    body: unknown,
    options: Omit<IdempotentRequest, 'url' | 'body' | 'method'>,
  ): Promise<IdempotentResponse<T>>;
}

/** Builds a client over a front end's attempt; a bad option is refused here, when the client is made. */
export function idempotentClient(send: SendAttempt, options: IdempotentClientOptions): IdempotentClient {
  resolveRetryOptions(options, {});
  if (options.baseUrl !== undefined) new URL(options.baseUrl);
  const request = <T>(call: IdempotentRequest) => sendIdempotent<T>(send, options, call);
  return { request, post: (url, body, call) => request({ ...call, url, body, method: 'POST' }) };
}
