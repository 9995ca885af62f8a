import { SetMetadata } from '@nestjs/common';

/** Metadata key of routes that need no API key (health, metrics, docs). */
export const IS_PUBLIC = 'payments:public';

/** Opens a route to callers without an API key. */
export const Public = () => SetMetadata(IS_PUBLIC, true);
