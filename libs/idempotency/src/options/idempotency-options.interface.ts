import { ExecutionContext } from '@nestjs/common';
import { IdempotencyEventListener } from './idempotency.events';
import type { IdempotencyTelemetryOptions } from './telemetry-options';
import type { PayloadSelection } from './payload-paths';
import {
  IdempotencyCompressionOptions,
  IdempotencyEncryptionOptions,
  IdempotencyLocalCacheOptions,
} from './stored-record-options';
import { IdempotencyStore } from '../stores/idempotency-store';

/** How the library's own errors (400, 409, 422, 503) are answered: Nest's shape, or RFC 9457 problem details. */
export type IdempotencyErrorFormat = 'nest' | 'problem+json';

/** What the storage policy sees of a finished request. */
export interface IdempotencyResponseInfo {
  status: number;
  /** True when the handler threw an `HttpException` rather than returning. */
  isError: boolean;
}

/** What a request with a key still in flight gets: `'reject'` → 409 with `Retry-After`, or a bounded wait. */
export type IdempotencyConflictStrategy = 'reject' | { wait: number };

/** Where message handlers keep their records; see `IdempotentRouteOptions.messageKeySpace`. */
export type IdempotencyMessageKeySpace = 'separate' | 'shared';

/** How the RabbitMQ transport acknowledges messages; see `IdempotentRouteOptions.rmq`. */
export interface IdempotencyRmqOptions {
  /** As in the microservice's RMQ options: `true` (Nest's default) for automatic acknowledgement. */
  noAck?: boolean;
}

/**
 * What, besides the method and path (HTTP), the pattern (messages) or the field (GraphQL), which always count, makes
 * up a call's fingerprint. Paths are dot paths into the parsed body, the message's payload or the mutation's
 * arguments: `amount`, `customer.id`, `items.*.sku` (`*`: every element or member; `\.`, `\*`, `\\`: a literal
 * dot, star, backslash in a key; digits: an array index). They are checked at start-up.
 */
export interface IdempotencyFingerprintOptions {
  /** Request headers that make two requests different (HTTP routes and GraphQL mutations). Default none. */
  headers?: string[];
  /**
   * Only these paths of the payload count: a change anywhere else is the same call, and replays. A path missing from
   * the payload is absent, which is not the same as `null`. Not with `exclude`.
   */
  include?: string[];
  /**
   * The payload without these paths counts (timestamps, trace ids, nonces): a retry that changed only them replays
   * the first response, and the change is ignored. Not with `include`; `[]` on a route undoes the module's selection.
   */
  exclude?: string[];
}

/** Settings that the module sets as defaults and `@Idempotent()` may override per route or controller. */
export interface IdempotentRouteOptions {
  /** Where records live. Default: an in-process `MemoryIdempotencyStore`. */
  store?: IdempotencyStore;
  /**
   * Header carrying the key: the HTTP request header, and the message header read on RabbitMQ (when the message
   * has no `messageId`) and NATS. Default `Idempotency-Key`.
   */
  headerName?: string;
  /**
   * Message handlers (`@MessagePattern`, `@EventPattern`) only: where a message's key comes from, when not from
   * its AMQP `messageId`, its `Idempotency-Key` header (RabbitMQ, NATS) or on another transport. Undefined means
   * no key. HTTP routes and GraphQL mutations read theirs from the `headerName` header: set on one of them, this
   * option stops start-up (set module-wide, it applies to message handlers only).
   */
  key?: (context: ExecutionContext) => string | undefined | Promise<string | undefined>;
  /**
   * Message handlers only: whose records a message's key meets. `'separate'` (default): message handlers keep
   * their records under `<keyPrefix>:messages`, apart from HTTP routes and GraphQL mutations, so whoever may
   * publish cannot use up (or replay) the HTTP keys of the same scope. `'shared'`: under `keyPrefix` itself, so
   * a message id and an HTTP key of one scope are one key, for an app that sends one operation both ways.
   */
  messageKeySpace?: IdempotencyMessageKeySpace;
  /**
   * Message handlers only: the largest message fingerprinted, in bytes (RabbitMQ: the raw content; elsewhere the
   * payload's size, counted up to this bound). A larger one is refused without running the handler
   * (`IDEMPOTENCY_PAYLOAD_TOO_LARGE`; rejected under manual acknowledgement). Default 1 MiB.
   */
  maxMessageBytes?: number;
  /**
   * RabbitMQ consumers: `noAck` as the microservice's RMQ options set it (Nest's default `true`). With `false`
   * (manual acknowledgement) the library acknowledges or rejects the messages whose handler it does not run,
   * and holds the handler's own `ack`/`nack` of its message until the record is settled. Default `{ noAck: true }`.
   */
  rmq?: IdempotencyRmqOptions;
  /** Whether a request without a key is refused (400). When false it runs unprotected. Default true. */
  required?: boolean;
  /** How long a completed record is kept, in milliseconds. Default 24 h. */
  ttl?: number;
  /** How long an in-flight request holds its lease, in milliseconds, before a retry may take over. Default 30 s. */
  lockTimeout?: number;
  /**
   * How long a refused client should wait before it retries, in milliseconds, sent as `Retry-After` (whole
   * seconds, at least 1) with a 409 (capped by what is left of the lease) and with the library's 503. Must
   * not exceed `lockTimeout`. Default 1 s.
   */
  retryAfter?: number;
  /**
   * Whose key it is. Default: the id (`id`, else `sub`) of `request.user` when there is one, else none, and
   * then every such caller shares one key space (warned once per route); for a message, none (no warning). Two
   * scopes never see each other's records; `sharedScope` declares one shared space on purpose. One that throws or
   * rejects is a configuration fault: a logged 500 and no record (an `HttpException` it throws is answered as is).
   */
  scope?: (context: ExecutionContext) => string | undefined | Promise<string | undefined>;
  /** What makes two calls under one key the same call (beyond method and path, pattern, or mutation field). */
  fingerprint?: IdempotencyFingerprintOptions;
  /** Response headers replayed besides `content-type` and `location`. `set-cookie` is never replayed. */
  replayHeaders?: string[];
  /**
   * Which finished requests are stored and replayed. Default: status < 500, thrown `HttpException`s included. One
   * that throws is logged, and the answer sent but not stored.
   */
  storeResponse?: (response: IdempotencyResponseInfo) => boolean;
  /** What a concurrent duplicate gets. Default `'reject'`. */
  onConflict?: IdempotencyConflictStrategy;
  /** When the store fails: false → 503 and the handler does not run (default); true → run unprotected. */
  failOpen?: boolean;
  /** Namespace of every record, so several apps can share a store. Default `idempotency`. */
  keyPrefix?: string;
  /** Largest serialised response stored, in bytes; larger ones are sent but not stored. Default 1 MiB. */
  maxResponseBytes?: number;
  /**
   * Complete the record in the same database transaction as the handler's writes (both or neither). Needs a
   * store that shares the business database (`TypeOrmIdempotencyStore`); any other is refused at start-up.
   * The handler writes through `IdempotencyTransaction.manager`. Default false.
   */
  transactional?: boolean;
  /**
   * The body of the library's own errors (400, 409, 422, 503): `'nest'`, Nest's `{statusCode, error, message}`
   * (default), or `'problem+json'`, RFC 9457 problem details (`type`, `title`, `status`, `detail`) as
   * `application/problem+json`. A handler's own exceptions are the application's to shape either way.
   */
  errorFormat?: IdempotencyErrorFormat;
}

/** Options of `IdempotencyModule.forRoot()` / `forRootAsync()`. */
export interface IdempotencyModuleOptions extends IdempotentRouteOptions {
  /** Receives one event per keyed request (outcome, route, scope, acquire latency), for metrics. */
  events?: IdempotencyEventListener;
  /**
   * Off by default. Keeps up to `maxEntries` records this process completed (per store, least recently used
   * out first) and answers their replays without a store round trip, until the record's `ttl` ends. A record
   * deleted from the store by hand is still replayed from here until then.
   */
  localCache?: IdempotencyLocalCacheOptions;
  /**
   * Where the library reports its OpenTelemetry metrics and traces (docs/operations.md): needs the optional peer
   * `@opentelemetry/api`. Default: the global meter and tracer providers registered when the module starts (an
   * SDK started before `NestFactory.create`); without an SDK, nothing is recorded and nothing is spent. `false`
   * turns it off.
   */
  telemetry?: IdempotencyTelemetryOptions | false;
  /**
   * On by default: a stored response whose JSON is at least `threshold` bytes (default 512) is kept deflated, as
   * base64 behind a marker, when that is smaller. About 18 µs per 1.5 KB response to compress and 9 µs to inflate on
   * a replay; a third to a half less memory for such records (docs/capacity.md). `false` stores plain JSON. Records
   * written either way stay readable; an instance of a version before this option answers 503 for compressed ones.
   */
  compression?: IdempotencyCompressionOptions;
  /**
   * Off by default. Seals every stored response with AES-256-GCM under `keys[current]`, bound to its record's id
   * (namespace, scope, key): the store sees no response body. Records stay readable while the key that sealed them is
   * in `keys`; a record whose key was removed answers 503 until it expires.
   */
  encryption?: IdempotencyEncryptionOptions;
}

/** Options with every default filled in; what the service works with. */
export interface ResolvedIdempotencyOptions extends Required<
  Omit<
    IdempotencyModuleOptions,
    | 'events'
    | 'localCache'
    | 'telemetry'
    | 'compression'
    | 'encryption'
    | 'fingerprint'
    | 'replayHeaders'
    | 'key'
    | 'rmq'
  >
> {
  fingerprintHeaders: string[];
  /** The `include` or `exclude` paths, parsed; undefined: the whole payload. */
  fingerprintSelection: PayloadSelection | undefined;
  replayHeaders: string[];
  /** Undefined: a message's key comes from where its transport carries one. */
  key: IdempotentRouteOptions['key'];
  rmq: Required<IdempotencyRmqOptions>;
}
