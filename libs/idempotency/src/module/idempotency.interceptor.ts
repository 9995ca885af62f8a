import { CallHandler, ExecutionContext, Injectable, NestInterceptor } from '@nestjs/common';
import { HttpAdapterHost, Reflector } from '@nestjs/core';
import { Observable } from 'rxjs';
import { IdempotencyService } from '../core/idempotency.service';
import { loadGraphQLTransport } from '../graphql/load-graphql-transport';
import { HttpIdempotencyTransport } from '../http/http-idempotency.transport';
import { IdempotencyTransport } from '../core/idempotency-transport';
import { loadRpcTransport } from '../microservices/load-rpc-transport';

/**
 * Marks a call a first registration has taken: with `@Idempotent()` on both class and method a call meets two of
 * these interceptors (Nest hands both the same context), and only the first may acquire. A property on the context
 * rather than a WeakSet entry: it dies with the context and costs the garbage collector nothing.
 */
const TAKEN = Symbol('idempotency:taken');

/**
 * Applied by `@Idempotent()`: hands each call to the transport it came through (HTTP routes, message handlers,
 * GraphQL mutations). The start-up validator refuses `@Idempotent()` on handlers of any other kind, so nothing
 * reaches the pass-through at the end unprotected.
 */
@Injectable()
export class IdempotencyInterceptor implements NestInterceptor {
  private readonly http: HttpIdempotencyTransport;
  /** Loaded on the first call of their kind, since each needs an optional peer dependency. */
  private graphql?: Promise<IdempotencyTransport>;
  private rpc?: Promise<IdempotencyTransport>;

  constructor(
    private readonly idempotency: IdempotencyService,
    reflector: Reflector,
    adapterHost: HttpAdapterHost,
  ) {
    this.http = new HttpIdempotencyTransport(idempotency, reflector, adapterHost);
  }

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> | Promise<Observable<unknown>> {
    const marked = context as ExecutionContext & { [TAKEN]?: true };
    if (marked[TAKEN]) return next.handle();
    marked[TAKEN] = true;
    const type = context.getType<string>();
    if (type === 'http') return this.http.intercept(context, next);
    const transport = this.transportFor(type);
    return transport ? transport.then((loaded) => loaded.intercept(context, next)) : next.handle();
  }

  private transportFor(type: string): Promise<IdempotencyTransport> | undefined {
    switch (type) {
      case 'graphql':
        return (this.graphql ??= loadGraphQLTransport(this.idempotency));
      case 'rpc':
        return (this.rpc ??= loadRpcTransport(this.idempotency));
      default:
        return undefined;
    }
  }
}
