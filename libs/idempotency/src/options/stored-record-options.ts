/** The `localCache` module option. */
export interface IdempotencyLocalCacheOptions {
  /** Most completed records kept per store; the least recently replayed go first. */
  maxEntries: number;
}

/** The `compression` module option; `false` stores every response as plain JSON. */
export type IdempotencyCompressionOptions =
  | {
      /**
       * Responses whose JSON is at least this many UTF-8 bytes are compressed. Default 512, or 128 with `encryption`
       * on (a sealed record is base64 either way, so deflate pays from far smaller sizes).
       */
      threshold?: number;
    }
  | false;

/** The `encryption` module option: AES-256-GCM keys by id, and the one new records are sealed with. */
export interface IdempotencyEncryptionOptions {
  /** Keys by id: 32 bytes each, as a `Buffer` or base64. Keep an old key here while records sealed with it live. */
  keys: Record<string, Buffer | string>;
  /** The id (in `keys`) of the key that seals new records. */
  current: string;
}
