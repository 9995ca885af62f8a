import { ExecutionContext } from '@nestjs/common';
import {
  IDEMPOTENCY_ALWAYS_REPLAYED_HEADERS,
  IDEMPOTENCY_DEFAULT_HEADER,
  IDEMPOTENCY_DEFAULT_KEY_PREFIX,
  IDEMPOTENCY_DEFAULT_LOCK_TIMEOUT_MS,
  IDEMPOTENCY_DEFAULT_MAX_MESSAGE_BYTES,
  IDEMPOTENCY_DEFAULT_MAX_RESPONSE_BYTES,
  IDEMPOTENCY_DEFAULT_RETRY_AFTER_MS,
  IDEMPOTENCY_DEFAULT_TTL_MS,
  IDEMPOTENCY_NEVER_REPLAYED_HEADERS,
  IDEMPOTENCY_ROUTE_OPTIONS,
} from './idempotency.constants';
import {
  IdempotencyFingerprintOptions,
  IdempotentRouteOptions,
  ResolvedIdempotencyOptions,
} from './idempotency-options.interface';
import { checkIdempotencyOptions } from './idempotency-options.check';
import { compilePayloadSelection } from './payload-paths';
import { supportsTransactions } from '../stores/idempotency-store';
import { MemoryIdempotencyStore } from '../stores/memory/memory-idempotency.store';

/**
 * Default scope: the authenticated principal's `id` (or `sub`) when a guard has set `request.user`, on an HTTP
 * route or a GraphQL resolver (whose context's `req` is the HTTP request).
 */
export function principalScope(context: ExecutionContext): string | undefined {
  const request = httpRequestOf(context);
  const user = request?.user;
  const id = user?.id ?? user?.sub;
  return id === undefined || id === null ? undefined : String(id);
}

/** The HTTP request behind a call: an HTTP route's own, or the `req` of a GraphQL resolver's context. */
function httpRequestOf(context: ExecutionContext): any {
  switch (context.getType<string>()) {
    // The request is the first argument of an HTTP context; switchToHttp() would allocate three closures per call.
    case 'http':
      return context.getArgByIndex(0);
    case 'graphql':
      return context.getArgByIndex(2)?.req;
    default:
      return undefined;
  }
}

/**
 * Scope of a route whose callers share one key space on purpose (no authentication, one trusted caller): one
 * caller's key replays another's response. Declaring it says so, and silences the no-principal warning.
 */
export function sharedScope(): string {
  return '';
}

/**
 * The options `@Idempotent()` declared for a handler: the controller's, overridden by the method's; undefined
 * when neither carries the decorator. The interceptor and the start-up validation both read them here.
 */
export function declaredRouteOptions(controller: Function, handler: Function): IdempotentRouteOptions | undefined {
  const classOptions: IdempotentRouteOptions | undefined = Reflect.getMetadata(IDEMPOTENCY_ROUTE_OPTIONS, controller);
  const methodOptions: IdempotentRouteOptions | undefined = Reflect.getMetadata(IDEMPOTENCY_ROUTE_OPTIONS, handler);
  return classOptions || methodOptions ? { ...classOptions, ...methodOptions } : undefined;
}

/** Default storage policy: every response below 500, thrown `HttpException`s included. */
export function storeBelow500({ status }: { status: number }): boolean {
  return status < 500;
}

/**
 * Fills in defaults over `base` (already resolved) or over the library defaults, and refuses a bad
 * configuration with a message that names the option, at start-up rather than on the first request.
 */
export function resolveIdempotencyOptions(
  options: IdempotentRouteOptions,
  base?: ResolvedIdempotencyOptions,
): ResolvedIdempotencyOptions {
  // Without a base these are the module's options; with one, a route's (or a run's) overrides.
  checkIdempotencyOptions(options, base ? 'route' : 'module');
  const resolved: ResolvedIdempotencyOptions = {
    store: options.store ?? base?.store ?? new MemoryIdempotencyStore(),
    headerName: options.headerName ?? base?.headerName ?? IDEMPOTENCY_DEFAULT_HEADER,
    key: options.key ?? base?.key,
    rmq: { noAck: options.rmq?.noAck ?? base?.rmq.noAck ?? true },
    messageKeySpace: options.messageKeySpace ?? base?.messageKeySpace ?? 'separate',
    maxMessageBytes: options.maxMessageBytes ?? base?.maxMessageBytes ?? IDEMPOTENCY_DEFAULT_MAX_MESSAGE_BYTES,
    required: options.required ?? base?.required ?? true,
    ttl: options.ttl ?? base?.ttl ?? IDEMPOTENCY_DEFAULT_TTL_MS,
    lockTimeout: options.lockTimeout ?? base?.lockTimeout ?? IDEMPOTENCY_DEFAULT_LOCK_TIMEOUT_MS,
    retryAfter: options.retryAfter ?? base?.retryAfter ?? IDEMPOTENCY_DEFAULT_RETRY_AFTER_MS,
    scope: options.scope ?? base?.scope ?? principalScope,
    fingerprintHeaders:
      options.fingerprint?.headers?.map((name) => name.toLowerCase()) ?? base?.fingerprintHeaders ?? [],
    fingerprintSelection: declaresPayloadSelection(options)
      ? compilePayloadSelection(options.fingerprint)
      : base?.fingerprintSelection,
    replayHeaders: options.replayHeaders
      ? replayableHeaders(options.replayHeaders)
      : (base?.replayHeaders ?? replayableHeaders([])),
    storeResponse: options.storeResponse ?? base?.storeResponse ?? storeBelow500,
    onConflict: options.onConflict ?? base?.onConflict ?? 'reject',
    failOpen: options.failOpen ?? base?.failOpen ?? false,
    keyPrefix: options.keyPrefix ?? base?.keyPrefix ?? IDEMPOTENCY_DEFAULT_KEY_PREFIX,
    maxResponseBytes: options.maxResponseBytes ?? base?.maxResponseBytes ?? IDEMPOTENCY_DEFAULT_MAX_RESPONSE_BYTES,
    transactional: options.transactional ?? base?.transactional ?? false,
    errorFormat: options.errorFormat ?? base?.errorFormat ?? 'nest',
  };
  validate(resolved);
  // Only a hint set here is held to this lease: an inherited one (the 1 s default under a 300 ms lease, say)
  // is capped by the lease when the header is written.
  if (options.retryAfter !== undefined && options.retryAfter > resolved.lockTimeout) {
    throw new Error(
      `Idempotency option "retryAfter" (${options.retryAfter} ms) must not exceed "lockTimeout" (${resolved.lockTimeout} ms)`,
    );
  }
  return resolved;
}

/**
 * Whether these options choose the payload's part of the fingerprint: `include` or `exclude` replaces the selection
 * it would inherit as a whole (a route's `include` is not merged with the module's `exclude`), while `headers` alone
 * leaves it as inherited.
 */
function declaresPayloadSelection(
  options: IdempotentRouteOptions,
): options is IdempotentRouteOptions & { fingerprint: IdempotencyFingerprintOptions } {
  return options.fingerprint?.include !== undefined || options.fingerprint?.exclude !== undefined;
}

function replayableHeaders(extra: string[]): string[] {
  const names = new Set([...IDEMPOTENCY_ALWAYS_REPLAYED_HEADERS, ...extra.map((name) => name.toLowerCase())]);
  for (const never of IDEMPOTENCY_NEVER_REPLAYED_HEADERS) names.delete(never);
  return [...names];
}

/** The rules between options, once each has been checked on its own and the defaults filled in. */
function validate(options: ResolvedIdempotencyOptions): void {
  if (options.lockTimeout > options.ttl) {
    throw new Error(
      `Idempotency option "lockTimeout" (${options.lockTimeout} ms) must not exceed "ttl" (${options.ttl} ms)`,
    );
  }
  if (options.transactional && !supportsTransactions(options.store)) {
    throw new Error(
      `Idempotency option "transactional" needs a store that shares the business database (TypeOrmIdempotencyStore); ` +
        `${options.store.constructor.name} cannot commit a record with the handler's writes`,
    );
  }
}
