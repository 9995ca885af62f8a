// What @MessagePattern/@EventPattern record on a handler (`@nestjs/microservices/constants`), read by name: the
// package's public entry exports neither key, these have not changed since Nest 5, and reading them by name
// lets the start-up validation see message handlers without loading @nestjs/microservices.
const PATTERN_METADATA = 'microservices:pattern';
const PATTERN_HANDLER_METADATA = 'microservices:handler_type';
/** `PatternHandler.EVENT`. */
const EVENT_HANDLER = 2;

/** A message handler's patterns and kind, or undefined for a method that handles no message. */
export interface MessageHandlerPatterns {
  /** Each declared pattern as a string (an object pattern as its JSON). */
  patterns: string[];
  isEvent: boolean;
}

/** The patterns `@MessagePattern`/`@EventPattern` declared on `handler`, if any. */
export function messageHandlerPatterns(handler: Function): MessageHandlerPatterns | undefined {
  const patterns: unknown[] | undefined = Reflect.getMetadata(PATTERN_METADATA, handler);
  if (!patterns) return undefined;
  return {
    patterns: patterns.map((one) => (typeof one === 'string' ? one : JSON.stringify(one))),
    isEvent: Reflect.getMetadata(PATTERN_HANDLER_METADATA, handler) === EVENT_HANDLER,
  };
}
