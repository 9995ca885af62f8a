import { applyDecorators, SetMetadata, UseFilters, UseInterceptors } from '@nestjs/common';
import { IDEMPOTENCY_ROUTE_OPTIONS } from '../options/idempotency.constants';
import { IdempotencyInterceptor } from './idempotency.interceptor';
import { IdempotencyProblemFilter } from '../http/idempotency-problem.filter';
import { IdempotentRouteOptions } from '../options/idempotency-options.interface';

/**
 * Makes a route (or every route of a controller that changes something: not its GET, HEAD and OPTIONS routes) safe
 * to retry: the options and the interceptor are applied together, so nothing else has to be remembered. Options on a method win over the controller's,
 * which win over the module's. (The filter only writes the library's own refusals as problem details, when
 * `errorFormat: 'problem+json'` asks for them; every other error reaches the application's filters.)
 */
export function Idempotent(options: IdempotentRouteOptions = {}): ClassDecorator & MethodDecorator {
  return applyDecorators(
    SetMetadata(IDEMPOTENCY_ROUTE_OPTIONS, options),
    UseInterceptors(IdempotencyInterceptor),
    UseFilters(IdempotencyProblemFilter),
  );
}
