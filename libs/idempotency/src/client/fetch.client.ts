import type { IdempotentClientOptions } from './client.options';
import { IdempotentClient, idempotentClient } from './idempotent-client';
import { AttemptRequest, AttemptResponse } from './send-idempotent';

/**
 * An idempotent client over Node's global `fetch` (Node 18+): no Nest or axios code is loaded. Redirects are not
 * followed (a 3xx is the answer), so a `POST` never turns into a `GET`.
 */
export function createIdempotentFetch(options: IdempotentClientOptions = {}): IdempotentClient {
  return idempotentClient(sendWithFetch, options);
}

async function sendWithFetch(request: AttemptRequest): Promise<AttemptResponse> {
  const response = await fetch(request.url, {
    method: request.method,
    headers: request.headers,
    // A Uint8Array is a BodyInit; the cast only narrows its buffer type (ArrayBufferLike) for the DOM typings.
    body: request.body as BodyInit | undefined,
    signal: request.signal,
    redirect: 'manual',
  });
  // The body is read under the same signal: an answer cut off halfway is no answer.
  const text = await response.text();
  return { status: response.status, headers: Object.fromEntries(response.headers), text };
}
