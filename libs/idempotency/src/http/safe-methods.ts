import { RequestMethod } from '@nestjs/common';
import { METHOD_METADATA } from '@nestjs/common/constants';

/**
 * The request methods that only read (RFC 9110 §9.2.1): repeating one changes nothing, so it needs no idempotency
 * key, and a key would only turn a cacheable read into a write to the store.
 */
export const SAFE_HTTP_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE']);

/**
 * The safe method a route is declared for (`@Get()`, `@Head()`, `@Options()`), or undefined for the others and for
 * `@All()`, whose requests may change something and are told apart by their own method when they come.
 */
export function safeRouteMethod(handler: Function): string | undefined {
  const method: RequestMethod | undefined = Reflect.getMetadata(METHOD_METADATA, handler);
  if (method === undefined) return undefined;
  const name = RequestMethod[method];
  return SAFE_HTTP_METHODS.has(name) ? name : undefined;
}
