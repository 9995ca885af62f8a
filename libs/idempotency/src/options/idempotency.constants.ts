/** Metadata key under which `@Idempotent()` stores a route's (or controller's) options. */
export const IDEMPOTENCY_ROUTE_OPTIONS = 'idempotency:options';

/** Header a client sends its key in, as named by the IETF draft. */
export const IDEMPOTENCY_DEFAULT_HEADER = 'Idempotency-Key';

/** Header set on every replayed response. */
export const IDEMPOTENCY_REPLAYED_HEADER = 'Idempotent-Replayed';

/** Completed records are kept this long by default (24 h). */
export const IDEMPOTENCY_DEFAULT_TTL_MS = 24 * 60 * 60 * 1000;

/** An in-flight request's lease lasts this long by default (30 s). */
export const IDEMPOTENCY_DEFAULT_LOCK_TIMEOUT_MS = 30 * 1000;

/** What `Retry-After` suggests by default to a request refused while its key is busy (1 s). */
export const IDEMPOTENCY_DEFAULT_RETRY_AFTER_MS = 1000;

/** Largest serialised response stored by default (1 MiB). */
export const IDEMPOTENCY_DEFAULT_MAX_RESPONSE_BYTES = 1024 * 1024;

/** Largest message a message handler fingerprints by default (1 MiB): canonicalising and hashing block the loop. */
export const IDEMPOTENCY_DEFAULT_MAX_MESSAGE_BYTES = 1024 * 1024;

/** What a message handler's namespace adds to `keyPrefix`, unless `messageKeySpace: 'shared'`. */
export const IDEMPOTENCY_MESSAGE_NAMESPACE_SUFFIX = ':messages';

/**
 * Longest `keyPrefix`, in UTF-8 bytes: the SQL store's namespace column holds 100, and a message handler's namespace
 * adds `:messages`. Checked at start-up, so a long prefix is not found by every acquire failing.
 */
export const IDEMPOTENCY_MAX_KEY_PREFIX_BYTES = 64;

/** Namespace that prefixes every record by default. */
export const IDEMPOTENCY_DEFAULT_KEY_PREFIX = 'idempotency';

/** Response headers replayed whatever the configuration says. */
export const IDEMPOTENCY_ALWAYS_REPLAYED_HEADERS: readonly string[] = ['content-type', 'location'];

/** Response headers never stored, whatever the configuration says. */
export const IDEMPOTENCY_NEVER_REPLAYED_HEADERS: readonly string[] = ['set-cookie'];

/** Longest key accepted, in characters (IETF draft: implementations choose; Stripe uses 255). */
export const IDEMPOTENCY_MAX_KEY_LENGTH = 255;

/**
 * Stored responses this large (UTF-8 bytes of their JSON) or larger are compressed by default. Below it, deflate
 * saves a few bytes at best, and base64 (which keeps the record text in every store) gives them back: at ~280 bytes
 * the stored form is no smaller, at ~530 bytes it is 28% smaller (bench/response-codecs.ts, docs/capacity.md).
 */
export const IDEMPOTENCY_DEFAULT_COMPRESSION_THRESHOLD_BYTES = 512;

/**
 * The default threshold with `encryption` on. A sealed record is base64 whatever happens, so there is no base64 for
 * deflate to win back first: a 277-byte payment is stored in 317 bytes compressed, 413 sealed as it is
 * (docs/capacity.md). Below ~128 bytes deflate's own header outweighs what it saves.
 */
export const IDEMPOTENCY_DEFAULT_SEALED_COMPRESSION_THRESHOLD_BYTES = 128;
