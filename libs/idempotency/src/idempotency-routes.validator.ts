import { Injectable, OnApplicationBootstrap } from '@nestjs/common';
import { DiscoveryService, MetadataScanner } from '@nestjs/core';
import { declaredRouteOptions } from './idempotency-options';
import { IdempotencyService } from './core/idempotency.service';

/**
 * Resolves every `@Idempotent()` route's options when the application starts, so a bad setting (a
 * transactional route on a store that cannot be transactional, a lease longer than the TTL) stops
 * start-up with the route's name instead of failing its first request.
 */
@Injectable()
export class IdempotencyRoutesValidator implements OnApplicationBootstrap {
  constructor(
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
    private readonly idempotency: IdempotencyService,
  ) {}

  onApplicationBootstrap(): void {
    for (const wrapper of this.discovery.getControllers()) {
      const controller = wrapper.metatype as Function | undefined;
      if (!controller || !wrapper.instance) continue;
      const prototype = Object.getPrototypeOf(wrapper.instance);
      for (const method of this.scanner.getAllMethodNames(prototype)) {
        const declared = declaredRouteOptions(controller, prototype[method]);
        if (!declared) continue;
        try {
          this.idempotency.resolve(declared);
        } catch (error) {
          throw new Error(
            `@Idempotent() on ${controller.name}.${method}: ${error instanceof Error ? error.message : String(error)}`,
          );
        }
      }
    }
  }
}
