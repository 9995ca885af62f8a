import { createParamDecorator, ExecutionContext } from '@nestjs/common';

/** The authenticated merchant, as the API key guard puts it on `request.user`. */
export interface Merchant {
  id: string;
}

/** Injects the authenticated merchant into a handler parameter. */
export const CurrentMerchant = createParamDecorator(
  (_data: unknown, context: ExecutionContext): Merchant => context.switchToHttp().getRequest().user,
);
