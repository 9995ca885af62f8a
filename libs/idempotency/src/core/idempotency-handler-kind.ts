import { METHOD_METADATA } from '@nestjs/common/constants';

/**
 * The metadata keys of Nest's optional packages (`@nestjs/microservices`, `@nestjs/websockets`,
 * `@nestjs/graphql`), as strings: importing their constants would load packages an application may not have.
 * A unit spec holds them equal to the packages' own.
 */
export const HANDLER_METADATA_KEYS = {
  messagePattern: 'microservices:pattern',
  messageHandlerType: 'microservices:handler_type',
  gateway: 'websockets:is_gateway',
  gatewayMessage: 'websockets:message_mapping',
  resolverType: 'graphql:resolver_type',
  resolveField: 'graphql:resolve_property',
  resolveReference: 'graphql:resolve_reference',
} as const;

/**
 * What Nest makes of a method, read from the metadata its decorators left: the kinds `@Idempotent()` protects
 * (`http-route`, `message-handler`, `mutation`) and the kinds it cannot, named for the start-up error.
 */
export type HandlerKind =
  | 'http-route'
  | 'message-handler'
  | 'mutation'
  | 'query'
  | 'subscription'
  | 'field-resolver'
  | 'gateway-message'
  | 'none';

/** The kind of handler `method` of `classRef` is. */
export function handlerKindOf(classRef: Function, method: Function): HandlerKind {
  const keys = HANDLER_METADATA_KEYS;
  if (Reflect.getMetadata(keys.gateway, classRef)) {
    return Reflect.getMetadata(keys.gatewayMessage, method) ? 'gateway-message' : 'none';
  }
  if (Reflect.getMetadata(keys.messagePattern, method) !== undefined) return 'message-handler';
  if (Reflect.getMetadata(keys.resolveField, method) || Reflect.getMetadata(keys.resolveReference, method)) {
    return 'field-resolver';
  }
  switch (Reflect.getMetadata(keys.resolverType, method)) {
    case 'Mutation':
      return 'mutation';
    case 'Query':
      return 'query';
    case 'Subscription':
      return 'subscription';
  }
  if (Reflect.getMetadata(METHOD_METADATA, method) !== undefined) return 'http-route';
  return 'none';
}

/** Whether `@Idempotent()` protects a handler of this kind. */
export function isProtectableHandler(kind: HandlerKind): boolean {
  return kind === 'http-route' || kind === 'message-handler' || kind === 'mutation';
}
