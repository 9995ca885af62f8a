import { lastValueFrom, Observable } from 'rxjs';
import type { IdempotentClientOptions } from './client.options';
import { IdempotentClient, idempotentClient } from './idempotent-client';
import { AttemptRequest, AttemptResponse } from './send-idempotent';

/**
 * What the client needs of `@nestjs/axios`'s `HttpService`: its `request()`. Written out rather than imported, so
 * that this package's types name no optional peer; any `HttpService` (of `@nestjs/axios` 4 or 12) fits it.
 */
export interface IdempotentHttpServiceLike {
  request(config: {
    url: string;
    method: string;
    headers: Record<string, string>;
    data?: Buffer;
    signal: AbortSignal;
    responseType: 'text';
    transformRequest: ((data: unknown) => unknown)[];
    transformResponse: ((data: unknown) => unknown)[];
    validateStatus: (status: number) => boolean;
    maxRedirects: number;
  }): Observable<{ status: number; headers: unknown; data: unknown }>;
}

/**
 * An idempotent client over Nest's `HttpService` (`@nestjs/axios`), so the app's axios instance, its interceptors
 * and its defaults apply. The same options and behaviour as `createIdempotentFetch`: axios's own status check,
 * redirects and body transforms are turned off, so the retry table decides and the bytes sent are the ones made once.
 */
export function createIdempotentHttpClient(
  httpService: IdempotentHttpServiceLike,
  options: IdempotentClientOptions = {},
): IdempotentClient {
  const send = async (request: AttemptRequest): Promise<AttemptResponse> => {
    const response = await lastValueFrom(
      httpService.request({
        url: request.url,
        method: request.method,
        headers: request.headers,
        data: request.body === undefined ? undefined : Buffer.from(request.body),
        signal: request.signal,
        responseType: 'text',
        transformRequest: [(data) => data],
        transformResponse: [(data) => data],
        validateStatus: () => true,
        maxRedirects: 0,
      }),
    );
    return { status: response.status, headers: headersOf(response.headers), text: textOf(response.data) };
  };
  return idempotentClient(send, options);
}

/** axios's headers (an `AxiosHeaders`, or a plain object), as one lower-case string per name. */
function headersOf(headers: unknown): Record<string, string> {
  const plain = (headers as { toJSON?: () => unknown })?.toJSON?.() ?? headers ?? {};
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(plain as Record<string, unknown>)) {
    if (value === undefined || value === null) continue;
    out[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : String(value);
  }
  return out;
}

function textOf(data: unknown): string {
  if (data === undefined || data === null) return '';
  if (typeof data === 'string') return data;
  return Buffer.isBuffer(data) ? data.toString('utf8') : JSON.stringify(data);
}
