/**
 * What the GraphQL transport and the Apollo plugin share about one HTTP request, kept on its GraphQL context
 * (one object per HTTP request, shared by the operations of a batch). Nothing here loads `graphql`.
 */
export interface GraphQLIdempotencyState {
  /** Set when the plugin saw the request start: a replay will carry its marker. */
  pluginActive: boolean;
  /** The response path of the guarded mutation field each record (namespace, scope, key) went to. */
  fieldsByRecord: Map<string, string>;
  /** The operations (their AST nodes) whose guarded field was answered from a stored result. */
  replayedOperations: Set<unknown>;
}

const STATE = Symbol.for('idempotency:graphql');

/** The request's state, made on first use by whichever of the plugin and the transport comes first. */
export function graphQLStateOf(context: object): GraphQLIdempotencyState {
  const holder = context as { [STATE]?: GraphQLIdempotencyState };
  return (holder[STATE] ??= { pluginActive: false, fieldsByRecord: new Map(), replayedOperations: new Set() });
}
