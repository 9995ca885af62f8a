import { CallHandler, ExecutionContext, Injectable, NestInterceptor } from '@nestjs/common';
import { HttpAdapterHost, Reflector } from '@nestjs/core';
import { Observable } from 'rxjs';
import { IdempotencyService } from './core/idempotency.service';
import { HttpIdempotencyTransport } from './http/http-idempotency.transport';
import { IdempotencyTransport } from './idempotency-transport';

/**
 * Applied by `@Idempotent()`: hands each call to the transport it came through: HTTP routes, and message
 * handlers (`@MessagePattern`, `@EventPattern`) of `@nestjs/microservices`. Any other kind passes through.
 */
@Injectable()
export class IdempotencyInterceptor implements NestInterceptor {
  /**
   * Calls a first registration has taken: with `@Idempotent()` on both class and method a call meets two of
   * these interceptors (Nest gives both the same context), and only the first may acquire.
   */
  private readonly taken = new WeakSet<ExecutionContext>();
  private readonly http: HttpIdempotencyTransport;
  private rpc: IdempotencyTransport | undefined;

  constructor(
    private readonly idempotency: IdempotencyService,
    reflector: Reflector,
    adapterHost: HttpAdapterHost,
  ) {
    this.http = new HttpIdempotencyTransport(idempotency, reflector, adapterHost);
  }

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> | Promise<Observable<unknown>> {
    if (this.taken.has(context)) return next.handle();
    this.taken.add(context);
    const transport = this.transportFor(context.getType<string>());
    return transport ? transport.intercept(context, next) : next.handle();
  }

  private transportFor(type: string): IdempotencyTransport | undefined {
    switch (type) {
      case 'http':
        return this.http;
      case 'rpc':
        return (this.rpc ??= this.loadRpcTransport());
      default:
        return undefined;
    }
  }

  /**
   * Required on the first message, not imported: `@nestjs/microservices` is an optional peer, and an app
   * without message handlers must not need it installed.
   */
  private loadRpcTransport(): IdempotencyTransport {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { RpcIdempotencyTransport } = require('./microservices/rpc-idempotency.transport') as {
      RpcIdempotencyTransport: new (idempotency: IdempotencyService) => IdempotencyTransport;
    };
    return new RpcIdempotencyTransport(this.idempotency);
  }
}
