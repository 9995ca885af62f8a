/**
 * What the GraphQL transport and the Apollo plugin share about one HTTP request. It is kept on the HTTP request
 * (the GraphQL context's `req`), not on the context: Apollo gives each operation of a batch a copy of the context,
 * and the rules (one key guards one mutation field, the replay header) are per HTTP request. Nothing here loads
 * `graphql`.
 */
export interface GraphQLIdempotencyState {
  /** Set when the plugin saw the request start: a replay will carry its marker. */
  pluginActive: boolean;
  /** The response path of the guarded mutation field each record (namespace, scope, key) went to. */
  fieldsByRecord: Map<string, string>;
  /**
   * Each operation (its GraphQL context) that reached a guarded mutation field, to whether one of its guarded fields
   * was answered from a stored result.
   */
  replayedByOperation: Map<object, boolean>;
}

const STATE = Symbol.for('idempotency:graphql');

/**
 * The state of the HTTP request behind a GraphQL context, made on first use by whichever of the plugin and the
 * transport comes first. A context without a request (an operation over a WebSocket) keeps its own.
 */
export function graphQLStateOf(context: object): GraphQLIdempotencyState {
  const request: unknown = (context as { req?: unknown }).req;
  const holder = (typeof request === 'object' && request !== null ? request : context) as {
    [STATE]?: GraphQLIdempotencyState;
  };
  return (holder[STATE] ??= { pluginActive: false, fieldsByRecord: new Map(), replayedByOperation: new Map() });
}

/**
 * Whether the HTTP response is a replay as a whole: at least one operation reached a guarded field, and every one
 * that did was answered from a stored result (for a batch, whose operations share one set of headers).
 */
export function isWholeRequestReplayed(state: GraphQLIdempotencyState): boolean {
  if (state.replayedByOperation.size === 0) return false;
  for (const replayed of state.replayedByOperation.values()) if (!replayed) return false;
  return true;
}
