import { createParamDecorator, ExecutionContext } from '@nestjs/common';

/** Who placed the request, as `CallerKeyGuard` puts it on `request.user`. */
export interface Caller {
  id: string;
}

/** Injects the authenticated caller into a handler parameter. */
export const CurrentCaller = createParamDecorator(
  (_data: unknown, context: ExecutionContext): Caller => context.switchToHttp().getRequest().user,
);
