import { Injectable, SetMetadata } from '@nestjs/common';
import { IDEMPOTENCY_REPLAYED_HEADER } from '../options/idempotency.constants';
import { graphQLStateOf, isWholeRequestReplayed } from './graphql-request-state';

const REPLAYED_HEADER = IDEMPOTENCY_REPLAYED_HEADER.toLowerCase();

/**
 * `@nestjs/apollo`'s `@Plugin()` marker, written as its string: its driver registers every provider that carries
 * it, and importing the decorator would load Apollo in applications that have no GraphQL.
 */
const APOLLO_PLUGIN_METADATA = 'graphql:plugin';

/** What the plugin reads of Apollo Server's request context: only these fields, so no Apollo types are needed. */
interface ApolloRequestContext {
  contextValue: unknown;
  response: {
    http: { headers: Map<string, string> };
    body:
      | { kind: 'single'; singleResult: { extensions?: Record<string, unknown> } }
      | { kind: 'incremental'; initialResult: { extensions?: Record<string, unknown> } };
  };
}

/**
 * Marks a replayed mutation in the response: `extensions.idempotency.replayed: true` on each operation answered from
 * a stored result, and the `Idempotent-Replayed: true` header, as an HTTP replay has, when every guarded operation of
 * the HTTP request (one, or a batch's) was. `IdempotencyModule` provides it, and the Apollo driver
 * registers it by itself: it collects the plugins among the providers of every module (or of the modules its
 * `include` reaches, which import `IdempotencyModule` wherever `@Idempotent()` is used). A driver that does not
 * collect them needs `new IdempotencyApolloPlugin()` in its `plugins`.
 */
@Injectable()
@SetMetadata(APOLLO_PLUGIN_METADATA, true)
export class IdempotencyApolloPlugin {
  async requestDidStart({ contextValue }: Pick<ApolloRequestContext, 'contextValue'>) {
    if (typeof contextValue !== 'object' || contextValue === null) return undefined;
    const state = graphQLStateOf(contextValue);
    state.pluginActive = true;
    return {
      async willSendResponse({ response }: ApolloRequestContext): Promise<void> {
        const replayed = state.replayedByOperation.get(contextValue);
        if (replayed === undefined) return;
        if (replayed) {
          const { body } = response;
          const result = body.kind === 'single' ? body.singleResult : body.initialResult;
          result.extensions = { ...result.extensions, idempotency: { replayed: true } };
        }
        // A batch's operations share the headers and finish in any order: each one decides by all it has seen, so
        // the header stays only if the last to finish finds every guarded operation replayed.
        if (isWholeRequestReplayed(state)) response.http.headers.set(REPLAYED_HEADER, 'true');
        else response.http.headers.delete(REPLAYED_HEADER);
      },
    };
  }
}
