import { Injectable, SetMetadata } from '@nestjs/common';
import { IDEMPOTENCY_REPLAYED_HEADER } from '../idempotency.constants';
import { graphQLStateOf } from './graphql-request-state';

/**
 * `@nestjs/apollo`'s `@Plugin()` marker, written as its string: its driver registers every provider that carries
 * it, and importing the decorator would load Apollo in applications that have no GraphQL.
 */
const APOLLO_PLUGIN_METADATA = 'graphql:plugin';

/** What the plugin reads of Apollo Server's request context: only these fields, so no Apollo types are needed. */
interface ApolloRequestContext {
  contextValue: unknown;
  operation?: unknown;
  response: {
    http: { headers: Map<string, string> };
    body:
      | { kind: 'single'; singleResult: { extensions?: Record<string, unknown> } }
      | { kind: 'incremental'; initialResult: { extensions?: Record<string, unknown> } };
  };
}

/**
 * Marks a replayed mutation in the response: `extensions.idempotency.replayed: true` and the
 * `Idempotent-Replayed: true` header, as an HTTP replay has. `IdempotencyModule` provides it, and the Apollo driver
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
      async willSendResponse({ operation, response }: ApolloRequestContext): Promise<void> {
        if (!state.replayedOperations.has(operation)) return;
        const { body } = response;
        const result = body.kind === 'single' ? body.singleResult : body.initialResult;
        result.extensions = { ...result.extensions, idempotency: { replayed: true } };
        response.http.headers.set(IDEMPOTENCY_REPLAYED_HEADER.toLowerCase(), 'true');
      },
    };
  }
}
