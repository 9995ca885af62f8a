import { Injectable, OnApplicationBootstrap } from '@nestjs/common';
import { PATH_METADATA } from '@nestjs/common/constants';
import { DiscoveryService, MetadataScanner } from '@nestjs/core';
import { declaredRouteOptions } from './idempotency-options';
import { IdempotentRouteOptions, ResolvedIdempotencyOptions } from './idempotency-options.interface';
import { IdempotencyService } from './core/idempotency.service';
import { messageHandlerPatterns } from './microservices/message-handler-metadata';

/**
 * Resolves every `@Idempotent()` route's options when the application starts, so a bad setting (a
 * transactional route on a store that cannot be transactional, a lease longer than the TTL, a `key` option on an
 * HTTP route, two event handlers that would share one key's record) stops start-up with the route's name
 * instead of failing its first request.
 */
@Injectable()
export class IdempotencyRoutesValidator implements OnApplicationBootstrap {
  constructor(
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
    private readonly idempotency: IdempotencyService,
  ) {}

  onApplicationBootstrap(): void {
    /** `keyPrefix` and pattern of each idempotent event handler seen, to the handler's name. */
    const eventHandlers = new Map<string, string>();
    for (const wrapper of this.discovery.getControllers()) {
      const controller = wrapper.metatype as Function | undefined;
      if (!controller || !wrapper.instance) continue;
      const prototype = Object.getPrototypeOf(wrapper.instance);
      for (const method of this.scanner.getAllMethodNames(prototype)) {
        const declared = declaredRouteOptions(controller, prototype[method]);
        if (!declared) continue;
        const name = `${controller.name}.${method}`;
        try {
          const resolved = this.idempotency.resolve(declared);
          this.checkHandlerKind(prototype[method], declared, resolved, name, eventHandlers);
        } catch (error) {
          throw new Error(`@Idempotent() on ${name}: ${error instanceof Error ? error.message : String(error)}`);
        }
      }
    }
  }

  private checkHandlerKind(
    handler: Function,
    declared: IdempotentRouteOptions,
    resolved: ResolvedIdempotencyOptions,
    name: string,
    eventHandlers: Map<string, string>,
  ): void {
    if (declared.key !== undefined && Reflect.getMetadata(PATH_METADATA, handler) !== undefined) {
      throw new Error(
        `the "key" option is for message handlers; an HTTP route reads its key from the "${resolved.headerName}" header`,
      );
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
