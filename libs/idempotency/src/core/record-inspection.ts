import { CompletedRecordCaches, completedRecordCacheKey } from './completed-record-cache';
import { IdempotencyKeyInvalidError, IdempotencyKeyMissingError } from './idempotency.errors';
import { parseIdempotencyKey } from './idempotency-key';
import { ResponseCodec } from './response-codec';
import { readStoredResponse } from './stored-response';
import { storableScope } from './stored-scope';
import { IDEMPOTENCY_MESSAGE_NAMESPACE_SUFFIX } from '../options/idempotency.constants';
import { IdempotentRouteOptions, ResolvedIdempotencyOptions } from '../options/idempotency-options.interface';
import { IdempotencyForgetResult, IdempotencyRecordId, IdempotencyStore } from '../stores/idempotency-store';

/** Which record `IdempotencyService.inspect()` and `forget()` look at: the key and where its record lives. */
export interface IdempotencyRecordLookup {
  /** The idempotency key as a client sends it (the quoted form too); validated like a request's. */
  key: string;
  /** Whose key it is, as the route's `scope` option gave it (the principal's id, say). Default none (''). */
  scope?: string;
  /** The `keyPrefix` the record was written under. Default the module's. */
  keyPrefix?: string;
  /** The store the record lives in, when the route had one of its own. Default the module's. */
  store?: IdempotencyStore;
  /** The route's own `ttl`, if it set one: `completedAt` is worked out from it. Default the module's. */
  ttl?: number;
  /**
   * A message handler's record: they live under `<keyPrefix>:messages` (unless the handler shares the HTTP key
   * space with `messageKeySpace: 'shared'`; then leave this false). Default false.
   */
  messages?: boolean;
}

/** What `IdempotencyService.inspect()` finds under a key: a request still running, or a stored result. */
export type IdempotencyRecordInspection =
  | {
      state: 'in_flight';
      fingerprint: string;
      /** When another request with the same fingerprint may take the record over (its holder presumed dead). */
      leaseExpiresAt: Date;
      expiresAt: Date;
    }
  | {
      state: 'completed';
      fingerprint: string;
      /** When the record stops counting, and a request with its key runs again. */
      expiresAt: Date;
      /**
       * `expiresAt` less the ttl (the lookup's, else the module's): when the record completed, provided it was
       * completed under that ttl.
       */
      completedAt: Date;
      /** The stored HTTP status, when the record is an HTTP response. */
      status?: number;
      /** The stored result as a replay reads it (for HTTP: `{ status, headers, body }`). */
      stored: unknown;
    };

/** Options of `IdempotencyService.forget()`. */
export interface IdempotencyForgetLookup extends IdempotencyRecordLookup {
  /**
   * Also delete a record whose request is still running (its holder's completion is then refused, and a retry
   * may run the work a second time, alongside it). Default false: such a record is left alone (`in_flight`).
   */
  force?: boolean;
}

/**
 * Looks records up for people (an SRE asking why a request was replayed, support letting a customer retry): the id
 * a key's record has, as the transports build it, and the store's record in the library's terms. `IdempotencyService`
 * fronts it.
 */
export class RecordInspection {
  constructor(
    private readonly resolve: (overrides: IdempotentRouteOptions) => ResolvedIdempotencyOptions,
    /** The `localCache` option's caches, from which a forgotten record is dropped too. */
    private readonly localCaches: CompletedRecordCaches | undefined,
    /** How stored responses are encoded (compressed, encrypted): an inspection reads them as a replay does. */
    private readonly codec: ResponseCodec,
  ) {}

  async inspect(lookup: IdempotencyRecordLookup): Promise<IdempotencyRecordInspection | undefined> {
    const { id, options } = this.locate(lookup);
    const store = options.store;
    if (typeof store.inspect !== 'function') throw notImplemented(store, 'inspect');
    const record = await store.inspect(id);
    if (!record) return undefined;
    const expiresAt = new Date(record.expiresAt);
    if (record.state === 'in_flight') {
      const leaseExpiresAt = new Date(record.leaseExpiresAt);
      return { state: 'in_flight', fingerprint: record.fingerprint, leaseExpiresAt, expiresAt };
    }
    const stored = readStoredResponse(record.response, this.codec, id, options.maxResponseBytes);
    const status = httpStatusOf(stored);
    return {
      state: 'completed',
      fingerprint: record.fingerprint,
      expiresAt,
      completedAt: new Date(record.expiresAt - options.ttl),
      ...(status === undefined ? {} : { status }),
      stored,
    };
  }

  async forget(lookup: IdempotencyForgetLookup): Promise<IdempotencyForgetResult> {
    const { id, options } = this.locate(lookup);
    const store = options.store;
    if (typeof store.forget !== 'function') throw notImplemented(store, 'forget');
    try {
      return await store.forget(id, { force: lookup.force === true });
    } finally {
      // Whatever the store answered, this process must not go on replaying a copy the store may no longer hold.
      this.localCaches?.of(store).delete(completedRecordCacheKey(id));
    }
  }

  /** The record's id, built as the transports build it, and the options it was written under. */
  private locate(lookup: IdempotencyRecordLookup): { id: IdempotencyRecordId; options: ResolvedIdempotencyOptions } {
    const key: unknown = lookup?.key;
    if (key !== undefined && typeof key !== 'string') throw new IdempotencyKeyInvalidError('it is not a string');
    const parsed = parseIdempotencyKey(key);
    if (parsed.status === 'missing') throw new IdempotencyKeyMissingError();
    if (parsed.status === 'invalid') throw new IdempotencyKeyInvalidError(parsed.reason);
    const options = this.resolve({ store: lookup.store, keyPrefix: lookup.keyPrefix, ttl: lookup.ttl });
    const namespace = lookup.messages ? options.keyPrefix + IDEMPOTENCY_MESSAGE_NAMESPACE_SUFFIX : options.keyPrefix;
    return { id: { namespace, scope: storableScope(lookup.scope ?? ''), key: parsed.key }, options };
  }
}

/** The status of a stored HTTP response (`{ status, headers, body }`); undefined for any other stored form. */
function httpStatusOf(stored: unknown): number | undefined {
  if (typeof stored !== 'object' || stored === null) return undefined;
  const { status, headers } = stored as { status?: unknown; headers?: unknown };
  const isHttp = Number.isInteger(status) && typeof headers === 'object' && headers !== null && 'body' in stored;
  return isHttp ? (status as number) : undefined;
}

function notImplemented(store: IdempotencyStore, method: 'inspect' | 'forget'): Error {
  return new Error(
    `${store.constructor.name} does not implement ${method}(), which IdempotencyService.${method}() needs; ` +
      `it is optional in IdempotencyStore, so a store written before it may lack it`,
  );
}
