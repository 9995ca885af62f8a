import type { IdempotentRequest, IdempotentResponse } from './client.options';

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

/** Builds the client over one attempt function; `request` is the only thing a front end provides. */
export function idempotentClient(
  request: <T>(request: IdempotentRequest) => Promise<IdempotentResponse<T>>,
): IdempotentClient {
  return {
    request,
    post: (url, body, options) => request({ ...options, url, body, method: 'POST' }),
  };
}
