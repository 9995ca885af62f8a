import { CallHandler, ExecutionContext, HttpException, HttpStatus, Logger } from '@nestjs/common';
import { GraphQLError, GraphQLResolveInfo } from 'graphql';
import { lastValueFrom, Observable, of } from 'rxjs';
import { fingerprintRequest } from '../core/fingerprint';
import {
  IdempotencyError,
  IdempotencyKeyInvalidError,
  IdempotencyKeyMismatchError,
  IdempotencyKeyMissingError,
} from '../core/idempotency.errors';
import { IdempotencyService } from '../core/idempotency.service';
import { IdempotentSettlement } from '../core/idempotent-call';
import { declinedByStoragePolicy } from '../core/option-callbacks';
import { requestScope } from '../http/idempotency-option-failure';
import { IDEMPOTENCY_KEY_ON_REQUEST, takesIdempotencyKey } from '../http/idempotency-key.decorator';
import { readIdempotencyKeyHeader } from '../http/idempotency-key-header';
import { IdempotencyTransport } from '../core/idempotency-transport';
import { warnNoPrincipalOnce } from '../core/no-principal-warning';
import { ResolvedIdempotencyOptions } from '../options/idempotency-options.interface';
import { principalScope } from '../options/idempotency-options';
import { IdempotencyRecordId } from '../stores/idempotency-store';
import { GraphQLIdempotencyState, graphQLStateOf } from './graphql-request-state';
import { graphQLErrorOf } from './graphql-refusals';
import { describeError } from '../util/describe-error';

/** A mutation's result as stored for replay. */
export interface StoredGraphQLResult {
  /** What the resolver returned, as JSON. */
  value?: unknown;
  /** The resolver threw an `HttpException` the storage policy keeps: a replay throws it again. */
  error?: { status: number; response: string | object; message: string };
}

/** What the transport works out once per resolver method. */
interface ResolverSettings {
  options: ResolvedIdempotencyOptions;
  /** Whether the resolver has an `@IdempotencyKey()` parameter, to be handed the key on the request. */
  takesKey: boolean;
  /** Whether the field has been warned about running without a principal under the default scope. */
  warnedNoPrincipal?: boolean;
}

/** A root field of a mutation operation: what `@Idempotent()` protects on a resolver. */
function isRootMutationField(info: GraphQLResolveInfo | undefined): info is GraphQLResolveInfo {
  return info?.operation?.operation === 'mutation' && info.path.prev === undefined;
}

/**
 * Translates a GraphQL mutation to the idempotency protocol and back. The key comes from the HTTP request's
 * header (the GraphQL context's `req`, Express's or Fastify's), the fingerprint from the field and its arguments,
 * the scope as on HTTP. A replay returns the stored result (the `IdempotencyApolloPlugin` marks it in the
 * response); refusals are `GraphQLError`s whose `extensions.code` is the protocol's code.
 *
 * One key guards one mutation field per HTTP request, the operations of a batch included: a second guarded field
 * under the same key is refused and does not run. Within an operation mutation fields run in series, so the first
 * has run (or been replayed) by then, and a retry of the whole request gets the same answer: the first replayed, the
 * second refused again. The operations of a batch run concurrently: the field that claims the key first runs.
 */
export class GraphQLIdempotencyTransport implements IdempotencyTransport {
  private readonly resolverCache = new WeakMap<Function, ResolverSettings>();
  private readonly logger = new Logger('Idempotency');
  private warnedNoPlugin = false;

  constructor(private readonly idempotency: IdempotencyService) {}

  async intercept(context: ExecutionContext, next: CallHandler): Promise<Observable<unknown>> {
    const info: GraphQLResolveInfo | undefined = context.getArgByIndex(3);
    // Only a class-wide @Idempotent() reaches a query or a field resolver (the start-up validation refuses it on
    // such a method): it covers the class's mutations, and reads run as they are.
    if (!isRootMutationField(info)) return next.handle();
    const graphQLContext: object = context.getArgByIndex(2) ?? {};
    const request = (graphQLContext as { req?: any }).req;
    const route = `${info.parentType.name}.${info.fieldName}`;

    const state = graphQLStateOf(graphQLContext);
    // A guarded field of this operation; replayed or not is known once it has been answered.
    if (!state.replayedByOperation.has(graphQLContext)) state.replayedByOperation.set(graphQLContext, false);
    const settings = this.resolverSettings(context);
    const { options } = settings;
    const scoped = requestScope(options.scope, context, route, this.logger);
    const principal = typeof scoped === 'object' ? await scoped : scoped;
    const scope = principal ?? '';
    const keyName = `${options.headerName} header`;
    // A mutation that reached the resolver without an HTTP request (over a WebSocket) has no header to read.
    const parsed = request ? readIdempotencyKeyHeader(request, options.headerName) : { status: 'missing' as const };
    if (parsed.status === 'missing') {
      if (!options.required) return next.handle();
      this.idempotency.emit({ outcome: 'missing_key', route, scope }, { transport: 'graphql', route, options });
      throw graphQLErrorOf(new IdempotencyKeyMissingError(keyName));
    }
    if (parsed.status === 'invalid') {
      this.idempotency.emit({ outcome: 'invalid_key', route, scope }, { transport: 'graphql', route, options });
      throw graphQLErrorOf(new IdempotencyKeyInvalidError(parsed.reason, keyName));
    }
    if (principal === undefined && options.scope === principalScope)
      warnNoPrincipalOnce(this.logger, settings, route, 'result');

    const id: IdempotencyRecordId = { namespace: options.keyPrefix, scope, key: parsed.key };
    this.claimField(state, id, String(info.path.key), route, keyName, options);
    if (!state.pluginActive) this.warnNoPlugin();
    if (settings.takesKey) request[IDEMPOTENCY_KEY_ON_REQUEST] = parsed.key;

    try {
      const execution = await this.idempotency.execute({
        id,
        fingerprint: this.fingerprint(route, context.getArgByIndex(1), request, options),
        route,
        transport: 'graphql',
        options,
        work: () => this.runResolver(next, options, route),
      });
      if (execution.kind === 'replayed') {
        state.replayedByOperation.set(graphQLContext, true);
        return this.replay(execution.stored as StoredGraphQLResult);
      }
      const { result } = execution.settlement;
      if ('error' in result) throw result.error;
      return of(result.value);
    } catch (error) {
      throw error instanceof IdempotencyError ? graphQLErrorOf(error) : error;
    }
  }

  /**
   * Gives the record to this field of the request, or refuses the field (before it runs) when another guarded
   * field of the request already has it.
   */
  private claimField(
    state: GraphQLIdempotencyState,
    id: IdempotencyRecordId,
    field: string,
    route: string,
    keyName: string,
    options: ResolvedIdempotencyOptions,
  ): void {
    const record = JSON.stringify([id.namespace, id.scope, id.key]);
    const guarded = state.fieldsByRecord.get(record);
    if (guarded === undefined) {
      state.fieldsByRecord.set(record, field);
      return;
    }
    this.idempotency.emit(
      { outcome: 'mismatch', route, scope: id.scope, reason: `the key already guards ${guarded}` },
      { transport: 'graphql', route, options },
    );
    throw graphQLErrorOf(
      new IdempotencyKeyMismatchError(),
      `The ${keyName} already guards the mutation field "${guarded}" of this request, and one key guards one ` +
        `mutation field: "${field}" was not run. Send each protected mutation with a key of its own.`,
    );
  }

  /** The options `@Idempotent()` declared for the resolver method, resolved once per method. */
  protected resolverSettings(context: ExecutionContext): ResolverSettings {
    const handler = context.getHandler();
    let settings = this.resolverCache.get(handler);
    if (!settings) {
      settings = {
        options: this.idempotency.handlers.optionsOf(context.getClass(), handler).resolved,
        takesKey: takesIdempotencyKey(context.getClass(), handler),
      };
      this.resolverCache.set(handler, settings);
    }
    return settings;
  }

  /**
   * SHA-256 of the field (as `Mutation.name`, whatever alias the client gave it), its canonical arguments (after
   * GraphQL's own coercion: defaults filled in, variables substituted), or the part of them
   * `fingerprint.include`/`exclude` selects (the arguments are always an object), and the configured request headers.
   */
  protected fingerprint(
    route: string,
    args: Record<string, unknown>,
    request: any,
    options: ResolvedIdempotencyOptions,
  ): string {
    let headers: Record<string, string | undefined> | undefined;
    for (const name of options.fingerprintHeaders) {
      const value = request.headers?.[name];
      (headers ??= {})[name] = Array.isArray(value) ? value.join(', ') : value;
    }
    try {
      return fingerprintRequest({
        method: 'GRAPHQL',
        path: route,
        body: args,
        headers,
        selection: options.fingerprintSelection,
      });
    } catch (error) {
      if (error instanceof RangeError) {
        throw new GraphQLError('The arguments are nested too deeply.', { extensions: { code: 'BAD_USER_INPUT' } });
      }
      throw error;
    }
  }

  private async runResolver(
    next: CallHandler,
    options: ResolvedIdempotencyOptions,
    route: string,
  ): Promise<IdempotentSettlement> {
    let value: unknown;
    try {
      value = await lastValueFrom(next.handle(), { defaultValue: undefined });
    } catch (error) {
      return this.settleError(error, options, route);
    }
    const result = { value };
    const declined = declinedByStoragePolicy(options, { status: HttpStatus.OK, isError: false }, route, this.logger);
    if (declined) return { result, keep: { release: 'released', reason: declined } };
    const stored: StoredGraphQLResult = { value };
    return { result, keep: { store: stored } };
  }

  /**
   * A thrown `HttpException` is a result, stored per `storeResponse` (by default below 500), except a 400: Nest
   * does not tell a resolver's pipes rejecting its arguments (validation) from the resolver's own 400, and a
   * corrected retry under the same key must run rather than meet a mismatch. Anything else releases the key.
   */
  private settleError(error: unknown, options: ResolvedIdempotencyOptions, route: string): IdempotentSettlement {
    const result = { error };
    if (!(error instanceof HttpException)) {
      return { result, keep: { release: 'released', reason: describeError(error) } };
    }
    const status = error.getStatus();
    if (status === HttpStatus.BAD_REQUEST) {
      return { result, keep: { release: 'released', reason: 'bad request (400): the client may correct it' } };
    }
    const declined = declinedByStoragePolicy(options, { status, isError: true }, route, this.logger);
    if (declined) return { result, keep: { release: 'released', reason: declined } };
    const stored: StoredGraphQLResult = {
      error: { status, response: error.getResponse(), message: error.message },
    };
    return { result, keep: { store: stored } };
  }

  private replay(stored: StoredGraphQLResult): Observable<unknown> {
    if (stored.error) {
      const { status, response, message } = stored.error;
      const error = new HttpException(response, status);
      error.message = message;
      throw error;
    }
    return of(stored.value);
  }

  private warnNoPlugin(): void {
    if (this.warnedNoPlugin) return;
    this.warnedNoPlugin = true;
    this.logger.warn(
      `GraphQL mutations are protected, but IdempotencyApolloPlugin is not among the GraphQL server's plugins, so ` +
        `replays carry no extensions.idempotency marker. The Apollo driver registers it by itself; with a driver ` +
        `that does not, list new IdempotencyApolloPlugin() in its "plugins".`,
    );
  }
}
