import {
  BadRequestException,
  CallHandler,
  ExecutionContext,
  HttpException,
  Logger,
  StreamableFile,
} from '@nestjs/common';
import { PATH_METADATA, SSE_METADATA } from '@nestjs/common/constants';
import { HttpAdapterHost, Reflector } from '@nestjs/core';
import { lastValueFrom, Observable, of } from 'rxjs';
import { fingerprintRequest } from '../core/fingerprint';
import { UnselectablePayloadError } from '../core/payload-selection';
import { IDEMPOTENCY_REPLAYED_HEADER } from '../options/idempotency.constants';
import { IdempotencyError } from '../core/idempotency.errors';
import { declinedByStoragePolicy } from '../core/option-callbacks';
import { requestScope } from './idempotency-option-failure';
import { IdempotencyTransport } from '../core/idempotency-transport';
import { warnNoPrincipalOnce } from '../core/no-principal-warning';
import {
  httpExceptionOf,
  IdempotencyInProgressException,
  IdempotencyKeyInvalidException,
  IdempotencyKeyMissingException,
  IdempotencyStoreUnavailableException,
} from './idempotency.exceptions';
import { IDEMPOTENCY_KEY_ON_REQUEST, takesIdempotencyKey } from './idempotency-key.decorator';
import { readIdempotencyKeyHeader } from './idempotency-key-header';
import { SAFE_HTTP_METHODS } from './safe-methods';
import { ResolvedIdempotencyOptions } from '../options/idempotency-options.interface';
import { principalScope } from '../options/idempotency-options';
import { IdempotencyService } from '../core/idempotency.service';
import { IdempotentSettlement } from '../core/idempotent-call';
import { IdempotencyProblemException, problemDetailsOf } from './problem-details';
import { describeError } from '../util/describe-error';
import { rememberLast } from '../util/remember-last';

/** A response as stored for replay. */
export interface StoredHttpResponse {
  status: number;
  headers: Record<string, string>;
  body: unknown;
  /** The handler threw an `HttpException`: a replay throws it again, so exception filters shape it alike. */
  error?: true;
}

/** What the interceptor works out once per handler. */
interface RouteSettings {
  options: ResolvedIdempotencyOptions;
  isSse: boolean;
  /** Whether the handler has an `@IdempotencyKey()` parameter, to be handed the key on the request. */
  takesKey: boolean;
  /** `METHOD /path`, remembered for the last method seen (a handler usually answers one): not built per request. */
  routeOf: (method: string) => string;
  /** Whether the route has been warned about running without a principal under the default scope. */
  warnedNoPrincipal?: boolean;
}

/** Set by Nest (11.2+) on a request whose pipes rejected it: its handler never ran. */
const REJECTED_BY_PIPES = Symbol.for('nestjs:rejected-by-pipes');
/** What an event stream leaves behind; one object for every such request. */
const SSE_SETTLEMENT: IdempotentSettlement = {
  result: { value: undefined },
  keep: { release: 'not_stored', reason: 'server-sent events' },
};

/**
 * Translates HTTP to the idempotency protocol and back: reads and checks the key, fingerprints the request,
 * hands the handler to `IdempotencyService`, and turns its answer into a response, a replay or one of the
 * 400/409/422/503 refusals. It stays adapter-neutral (Express, Fastify) through `HttpAdapterHost`.
 */
export class HttpIdempotencyTransport implements IdempotencyTransport {
  private readonly routeCache = new WeakMap<Function, RouteSettings>();
  private readonly logger = new Logger('Idempotency');

  constructor(
    private readonly idempotency: IdempotencyService,
    private readonly reflector: Reflector,
    private readonly adapterHost: HttpAdapterHost,
  ) {}

  async intercept(context: ExecutionContext, next: CallHandler): Promise<Observable<unknown>> {
    // getArgByIndex rather than switchToHttp(), which assigns three new closures to the context on every call.
    const request = context.getArgByIndex(0);
    const method: string = request.method;
    // Only a class-wide @Idempotent() (or one on an @All() route) reaches a read: the start-up validation refuses
    // it on a GET, HEAD or OPTIONS route. A read changes nothing, so it runs as it is, without a key or a record.
    if (SAFE_HTTP_METHODS.has(method)) return next.handle();

    const settings = this.routeSettings(context);
    const { options, isSse } = settings;
    const route = settings.routeOf(method);
    const scoped = requestScope(options.scope, context, route, this.logger);
    const principal = typeof scoped === 'object' ? await scoped : scoped;
    const scope = principal ?? '';
    const parsed = readIdempotencyKeyHeader(request, options.headerName);
    if (parsed.status === 'missing') {
      if (!options.required) return next.handle();
      this.idempotency.emit({ outcome: 'missing_key', route, scope }, { transport: 'http', route, options });
      throw this.refusal(new IdempotencyKeyMissingException(options.headerName), context.getArgByIndex(1), options);
    }
    if (parsed.status === 'invalid') {
      this.idempotency.emit({ outcome: 'invalid_key', route, scope }, { transport: 'http', route, options });
      throw this.refusal(
        new IdempotencyKeyInvalidException(options.headerName, parsed.reason),
        context.getArgByIndex(1),
        options,
      );
    }

    if (principal === undefined && options.scope === principalScope)
      warnNoPrincipalOnce(this.logger, settings, route, 'response');
    if (settings.takesKey) request[IDEMPOTENCY_KEY_ON_REQUEST] = parsed.key;
    let stream: Observable<unknown> | undefined;
    const response = context.getArgByIndex(1);
    try {
      const execution = await this.idempotency.execute({
        id: { namespace: options.keyPrefix, scope, key: parsed.key },
        fingerprint: this.fingerprint(request, method, options),
        route,
        transport: 'http',
        options,
        work: isSse
          ? async () => {
              // An event stream has no end to wait for and nothing to replay: send it, release the key.
              stream = next.handle();
              return SSE_SETTLEMENT;
            }
          : () => this.runHandler(next, request, response, options, route),
      });
      if (execution.kind === 'replayed') return this.replay(execution.stored as StoredHttpResponse, response);
      if (stream) return stream;
      const { result } = execution.settlement;
      if ('error' in result) throw result.error;
      return of(result.value);
    } catch (error) {
      throw this.refusal(error, response, options);
    }
  }

  /**
   * One of the library's own refusals as the client gets it: `Retry-After` on 409 and 503, and the body as RFC
   * 9457 problem details when `errorFormat` asks for them. Any other error passes through unchanged.
   */
  protected refusal(refused: unknown, response: unknown, options: ResolvedIdempotencyOptions): unknown {
    const error = refused instanceof IdempotencyError ? httpExceptionOf(refused, options.headerName) : refused;
    if (error instanceof IdempotencyInProgressException || error instanceof IdempotencyStoreUnavailableException) {
      this.adapter.setHeader(response, 'Retry-After', String(error.retryAfterSeconds));
    }
    if (options.errorFormat !== 'problem+json') return error;
    const problem = problemDetailsOf(error);
    if (!problem) return error;
    return new IdempotencyProblemException(problem, error);
  }

  /**
   * The request's route pattern (not its URL, so metrics stay low-cardinality), its options and whether it
   * streams server-sent events, worked out once per handler.
   */
  protected routeSettings(context: ExecutionContext): RouteSettings {
    const handler = context.getHandler();
    let settings = this.routeCache.get(handler);
    if (!settings) {
      const options = this.idempotency.handlers.optionsOf(context.getClass(), handler).resolved;
      const first = (value: unknown) => (Array.isArray(value) ? value[0] : value) ?? '';
      const path = `/${[
        first(Reflect.getMetadata(PATH_METADATA, context.getClass())),
        first(Reflect.getMetadata(PATH_METADATA, handler)),
      ]
        .join('/')
        .split('/')
        .filter(Boolean)
        .join('/')}`;
      const isSse = this.reflector.get<boolean>(SSE_METADATA, handler) === true;
      const takesKey = takesIdempotencyKey(context.getClass(), handler);
      const routeOf = rememberLast((method: string) => `${method} ${path}`);
      settings = { options, isSse, takesKey, routeOf };
      this.routeCache.set(handler, settings);
    }
    return settings;
  }

  /**
   * SHA-256 of method, request target, canonical body (or the part `fingerprint.include`/`exclude` selects) and the
   * configured headers. A body nested so deep that canonicalising it overflows the stack, and a raw body (text,
   * bytes) on a route that selects fields of a JSON one, are the client's fault: 400, not 500.
   */
  protected fingerprint(request: any, method: string, options: ResolvedIdempotencyOptions): string {
    let headers: Record<string, string | undefined> | undefined;
    for (const name of options.fingerprintHeaders) {
      const value = request.headers[name];
      (headers ??= {})[name] = Array.isArray(value) ? value.join(', ') : value;
    }
    try {
      return fingerprintRequest({
        method,
        path: this.adapter.getRequestUrl(request),
        body: request.body,
        headers,
        selection: options.fingerprintSelection,
      });
    } catch (error) {
      if (error instanceof RangeError) throw new BadRequestException('The request body is nested too deeply.');
      if (error instanceof UnselectablePayloadError) {
        throw new BadRequestException(`The request body cannot be fingerprinted: ${error.message}.`);
      }
      throw error;
    }
  }

  private async runHandler(
    next: CallHandler,
    request: any,
    response: any,
    options: ResolvedIdempotencyOptions,
    route: string,
  ): Promise<IdempotentSettlement> {
    let value: unknown;
    try {
      value = await lastValueFrom(next.handle(), { defaultValue: undefined });
    } catch (error) {
      return this.settleError(error, request, response, options, route);
    }
    const status: number = response.statusCode;
    const result = { value };
    if (this.adapter.isHeadersSent(response)) {
      return { result, keep: { release: 'not_stored', reason: 'the handler wrote the response itself' } };
    }
    if (value instanceof StreamableFile || typeof (value as { pipe?: unknown })?.pipe === 'function') {
      return { result, keep: { release: 'not_stored', reason: 'streamed body' } };
    }
    if (value instanceof Uint8Array) {
      return { result, keep: { release: 'not_stored', reason: 'binary body' } };
    }
    const declined = declinedByStoragePolicy(options, { status, isError: false }, route, this.logger);
    if (declined) return { result, keep: { release: 'released', reason: declined } };
    const stored: StoredHttpResponse = { status, headers: this.replayableHeaders(response, options), body: value };
    return { result, keep: { store: stored } };
  }

  private settleError(
    error: unknown,
    request: any,
    response: any,
    options: ResolvedIdempotencyOptions,
    route: string,
  ): IdempotentSettlement {
    const result = { error };
    // Validation failures are not results: storing them would turn the client's corrected retry into a 422.
    if (request[REJECTED_BY_PIPES] === true) {
      return { result, keep: { release: 'released', reason: 'rejected by pipes (validation)' } };
    }
    if (!(error instanceof HttpException)) {
      return { result, keep: { release: 'released', reason: describeError(error) } };
    }
    const status = error.getStatus();
    const declined = declinedByStoragePolicy(options, { status, isError: true }, route, this.logger);
    if (declined) return { result, keep: { release: 'released', reason: declined } };
    const stored: StoredHttpResponse = {
      status,
      headers: this.replayableHeaders(response, options),
      body: error.getResponse(),
      error: true,
    };
    return { result, keep: { store: stored } };
  }

  private replayableHeaders(response: any, options: ResolvedIdempotencyOptions): Record<string, string> {
    const headers: Record<string, string> = {};
    for (const name of options.replayHeaders) {
      const value = this.adapter.getHeader(response, name);
      if (value !== undefined && value !== null)
        headers[name] = Array.isArray(value) ? value.join(', ') : String(value);
    }
    return headers;
  }

  private replay(stored: StoredHttpResponse, response: any): Observable<unknown> {
    this.adapter.status(response, stored.status);
    const headers = stored.headers ?? {};
    for (const name in headers) this.adapter.setHeader(response, name, headers[name]);
    this.adapter.setHeader(response, IDEMPOTENCY_REPLAYED_HEADER, 'true');
    if (stored.error) throw new HttpException(stored.body as Record<string, unknown>, stored.status);
    return of(stored.body);
  }

  private get adapter() {
    return this.adapterHost.httpAdapter;
  }
}
