import { applyDecorators, SetMetadata, UseInterceptors } from '@nestjs/common';
import { IDEMPOTENCY_ROUTE_OPTIONS } from './idempotency.constants';
import { IdempotencyInterceptor } from './idempotency.interceptor';
import { IdempotentRouteOptions } from './idempotency-options.interface';

/**
 * Makes a route (or every route of a controller) safe to retry: the options and the interceptor are
 * applied together, so nothing else has to be remembered. Options on a method win over the controller's,
 * which win over the module's.
 */
export function Idempotent(options: IdempotentRouteOptions = {}): ClassDecorator & MethodDecorator {
  return applyDecorators(SetMetadata(IDEMPOTENCY_ROUTE_OPTIONS, options), UseInterceptors(IdempotencyInterceptor));
}
