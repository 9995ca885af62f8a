import { HANDLER_METADATA_KEYS } from './idempotency-handler-kind';

/** `PatternHandler.EVENT` of `@nestjs/microservices`, read without loading it. */
const EVENT_HANDLER = 2;

/** A message handler's patterns and kind, or undefined for a method that handles no message. */
export interface MessageHandlerPatterns {
  /** Each declared pattern as a string (an object pattern as its JSON). */
  patterns: string[];
  isEvent: boolean;
}

/** The patterns `@MessagePattern`/`@EventPattern` declared on `handler`, if any. */
export function messageHandlerPatterns(handler: Function): MessageHandlerPatterns | undefined {
  const patterns: unknown[] | undefined = Reflect.getMetadata(HANDLER_METADATA_KEYS.messagePattern, handler);
  if (!patterns) return undefined;
  return {
    patterns: patterns.map((one) => (typeof one === 'string' ? one : JSON.stringify(one))),
    isEvent: Reflect.getMetadata(HANDLER_METADATA_KEYS.messageHandlerType, handler) === EVENT_HANDLER,
  };
}
