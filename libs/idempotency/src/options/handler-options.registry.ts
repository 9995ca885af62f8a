import { declaredRouteOptions } from './idempotency-options';
import { IdempotentRouteOptions, ResolvedIdempotencyOptions } from './idempotency-options.interface';

/** What `@Idempotent()` declared on a handler, and what it runs with. */
export interface HandlerOptions {
  declared: IdempotentRouteOptions;
  resolved: ResolvedIdempotencyOptions;
}

/**
 * Each guarded handler's options, resolved once: the start-up walk (`IdempotencyRoutesValidator`) fills it and
 * checks each entry, and the transports and the OpenAPI documentation read it. A handler the walk never saw (an
 * interceptor applied by hand) is resolved on its first call, as the walk would have.
 */
export class HandlerOptionsRegistry {
  // Per class, then per method: a method a base class declares runs under each subclass's own class-wide options.
  private readonly byClass = new WeakMap<Function, Map<Function, HandlerOptions>>();

  constructor(private readonly resolve: (declared: IdempotentRouteOptions) => ResolvedIdempotencyOptions) {}

  /** The handler's options; resolves and keeps them on first use. Throws what resolution throws (a bad option). */
  optionsOf(controller: Function, handler: Function): HandlerOptions {
    let handlers = this.byClass.get(controller);
    if (!handlers) {
      handlers = new Map();
      this.byClass.set(controller, handlers);
    }
    let options = handlers.get(handler);
    if (!options) {
      const declared = declaredRouteOptions(controller, handler) ?? {};
      options = { declared, resolved: this.resolve(declared) };
      handlers.set(handler, options);
    }
    return options;
  }
}
