import { HandlerOptionsRegistry } from './handler-options.registry';
import { resolveIdempotencyOptions } from './idempotency-options';
import {
  IdempotencyModuleOptions,
  IdempotentRouteOptions,
  ResolvedIdempotencyOptions,
} from './idempotency-options.interface';

/**
 * The module's options, resolved once (the module provides it from `forRoot`/`forRootAsync`), and the registry
 * of each handler's options over them.
 */
export class IdempotencyConfiguration {
  /** The module's options with every default filled in. */
  readonly defaults: ResolvedIdempotencyOptions;
  readonly handlers: HandlerOptionsRegistry;

  constructor(readonly moduleOptions: IdempotencyModuleOptions = {}) {
    this.defaults = resolveIdempotencyOptions(moduleOptions);
    this.handlers = new HandlerOptionsRegistry((declared) => this.resolve(declared));
  }

  /** The module defaults overridden by a route's (or a call's) options, validated. */
  resolve(overrides?: IdempotentRouteOptions): ResolvedIdempotencyOptions {
    return overrides ? resolveIdempotencyOptions(overrides, this.defaults) : this.defaults;
  }
}
