import { Injectable, OnApplicationBootstrap } from '@nestjs/common';
import { DiscoveryService, MetadataScanner } from '@nestjs/core';
import { InstanceWrapper } from '@nestjs/core/injector/instance-wrapper';
import { IdempotencyService } from '../core/idempotency.service';
import { IDEMPOTENCY_ROUTE_OPTIONS } from '../options/idempotency.constants';
import {
  HANDLER_METADATA_KEYS,
  HandlerKind,
  handlerKindOf,
  isProtectableHandler,
} from '../core/idempotency-handler-kind';
import { IdempotentRouteOptions, ResolvedIdempotencyOptions } from '../options/idempotency-options.interface';
import { messageHandlerPatterns } from '../core/message-handler-metadata';
import { safeRouteMethod } from '../http/safe-methods';
import { IdempotencyStoreLifecycle } from './idempotency-store.lifecycle';
import { IdempotencyStore } from '../stores/idempotency-store';
import { describeError } from '../util/describe-error';

/** Why `@Idempotent()` cannot protect a handler of each kind it refuses, for the start-up error. */
const UNPROTECTABLE: Record<Exclude<HandlerKind, 'http-route' | 'message-handler' | 'mutation'>, string> = {
  query: 'a GraphQL query is a read, which needs no idempotency key; put @Idempotent() on mutations',
  subscription: 'a GraphQL subscription cannot be replayed; put @Idempotent() on mutations',
  'field-resolver':
    'a GraphQL field resolver runs as part of another field; put @Idempotent() on the mutation it belongs to',
  'gateway-message':
    'a WebSocket gateway has no idempotency transport; protect the work inside it with IdempotencyService.run()',
  none:
    'it is not an HTTP route, a message handler or a GraphQL mutation, so @Idempotent() would never run; ' +
    'protect other work with IdempotencyService.run()',
};

/**
 * Checks every `@Idempotent()` when the application starts, so that nothing passes through unprotected and a bad
 * setting (a transactional route on a store that cannot be transactional, a lease longer than the TTL, a `key`
 * option where no message carries the key, two event handlers that would share one key's record) stops start-up
 * with the class and method named instead of failing its first call. It looks at controllers (HTTP
 * routes, message handlers) and providers (GraphQL resolvers, WebSocket gateways, anything else) and refuses the
 * decorator where it cannot protect: on a method that is not an HTTP route, a message handler or a mutation, and
 * on a class that is not a controller or a resolver, and on a GET, HEAD or OPTIONS route. On a controller or a
 * resolver class it covers the routes of the unsafe methods, the handlers and the mutations; a controller's GET,
 * HEAD and OPTIONS routes and a resolver's queries and field resolvers are reads and run as they are. Each handler's
 * options are resolved here into the registry the transports read (`HandlerOptionsRegistry`). Then it starts every
 * store the handlers use that the module does not start already (see `IdempotencyStoreLifecycle`).
 */
@Injectable()
export class IdempotencyRoutesValidator implements OnApplicationBootstrap {
  constructor(
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
    private readonly idempotency: IdempotencyService,
    private readonly stores: IdempotencyStoreLifecycle,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const classes = new Set<Function>();
    for (const wrapper of [...this.discovery.getControllers(), ...this.discovery.getProviders()]) {
      const classRef = classOf(wrapper);
      if (classRef) classes.add(classRef);
    }
    /** Each idempotent event handler's `keyPrefix` and pattern, to the handler's name. */
    const eventHandlers = new Map<string, string>();
    /** Each store the handlers use, to the first handler using it, named in an error of its start. */
    const stores = new Map<IdempotencyStore, string>();
    for (const classRef of classes) this.check(classRef, eventHandlers, stores);
    await Promise.all(
      [...stores].map(([store, name]) =>
        this.stores.start(store).catch((error: unknown) => {
          throw refusal(name, error);
        }),
      ),
    );
  }

  private check(classRef: Function, eventHandlers: Map<string, string>, stores: Map<IdempotencyStore, string>): void {
    const onClass = Reflect.getMetadata(IDEMPOTENCY_ROUTE_OPTIONS, classRef) !== undefined;
    const prototype = classRef.prototype;
    if (onClass && Reflect.getMetadata(HANDLER_METADATA_KEYS.gateway, classRef)) {
      throw new Error(`@Idempotent() on ${classRef.name}: ${UNPROTECTABLE['gateway-message']}`);
    }
    let protectsAny = false;
    for (const method of this.scanner.getAllMethodNames(prototype)) {
      const handler = prototype[method];
      const onMethod = Reflect.getMetadata(IDEMPOTENCY_ROUTE_OPTIONS, handler) !== undefined;
      if (!onMethod && !onClass) continue;
      const kind = handlerKindOf(classRef, handler);
      if (!isProtectableHandler(kind)) {
        // A class-wide decorator covers the class's handlers; its other methods are not its business.
        if (!onMethod) continue;
        throw new Error(
          `@Idempotent() on ${classRef.name}.${method}: ${UNPROTECTABLE[kind as keyof typeof UNPROTECTABLE]}`,
        );
      }
      const name = `${classRef.name}.${method}`;
      const safeMethod = kind === 'http-route' ? safeRouteMethod(handler) : undefined;
      if (safeMethod !== undefined) {
        // A class-wide decorator guards the controller's unsafe routes; its reads run as they are.
        if (!onMethod) continue;
        throw new Error(
          `@Idempotent() on ${name}: ${safeMethod} is a safe method, which only reads and needs no idempotency key; ` +
            `put @Idempotent() on the routes that change something (POST, PUT, PATCH, DELETE)`,
        );
      }
      protectsAny = true;
      try {
        const { declared, resolved } = this.idempotency.handlers.optionsOf(classRef, handler);
        this.checkMessageOptions(kind, handler, declared, resolved, name, eventHandlers);
        if (!stores.has(resolved.store)) stores.set(resolved.store, name);
      } catch (error) {
        throw refusal(name, error);
      }
    }
    if (onClass && !protectsAny) {
      throw new Error(
        `@Idempotent() on ${classRef.name}: it has no HTTP route, message handler or GraphQL mutation to protect ` +
          `(its GET, HEAD and OPTIONS routes are reads, which it does not guard)`,
      );
    }
  }

  private checkMessageOptions(
    kind: HandlerKind,
    handler: Function,
    declared: IdempotentRouteOptions,
    resolved: ResolvedIdempotencyOptions,
    name: string,
    eventHandlers: Map<string, string>,
  ): void {
    if (kind !== 'message-handler') {
      const reader = kind === 'mutation' ? 'a GraphQL mutation' : 'an HTTP route';
      if (declared.key !== undefined) {
        throw new Error(
          `the "key" option is for message handlers; ${reader} reads its key from the "${resolved.headerName}" header`,
        );
      }
      // Set module-wide they apply to message handlers only; on one route they would be silently ignored.
      for (const option of ['messageKeySpace', 'maxMessageBytes'] as const) {
        if (declared[option] !== undefined) {
          throw new Error(`the "${option}" option is for message handlers; it does nothing on ${reader}`);
        }
      }
    }
    const message = messageHandlerPatterns(handler);
    if (!message?.isEvent) return;
    // Nest hands one event to every handler of its pattern: under one keyPrefix the first would complete the
    // key's record and every other would take the event for a duplicate and skip it.
    for (const pattern of message.patterns) {
      const id = JSON.stringify([resolved.keyPrefix, pattern]);
      const other = eventHandlers.get(id);
      if (other) {
        throw new Error(
          `it handles event ${JSON.stringify(pattern)} as ${other} does, under the same keyPrefix ` +
            `"${resolved.keyPrefix}", so one would skip every event the other ran: give each its own keyPrefix`,
        );
      }
      eventHandlers.set(id, name);
    }
  }
}

/**
 * The class a provider or controller is made of: a class provider's metatype (so a request-scoped one, which has
 * no instance yet, is checked too), else the class of what a factory or a value provided.
 */
function classOf(wrapper: InstanceWrapper): Function | undefined {
  if (!wrapper.isNotMetatype && typeof wrapper.metatype === 'function') return wrapper.metatype;
  const instance: unknown = wrapper.instance;
  if (typeof instance !== 'object' || instance === null) return undefined;
  const classRef = instance.constructor;
  return typeof classRef === 'function' && classRef !== Object ? classRef : undefined;
}

/** The start-up error for a handler whose options (or store) failed: the handler named, then why. */
function refusal(name: string, error: unknown): Error {
  return new Error(`@Idempotent() on ${name}: ${describeError(error)}`);
}
