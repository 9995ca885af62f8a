import { resolve } from 'node:path';

/** Which idempotency store the app uses (IDEMPOTENCY_STORE). */
export type IdempotencyStoreKind = 'typeorm' | 'redis' | 'memory';

/** A database the app can run on, from DATABASE_URL. */
export type DatabaseConfig =
  | { type: 'sqlite'; path: string }
  | { type: 'postgres'; url: string; poolSize: number }
  | { type: 'mysql'; url: string; poolSize: number };

/** The app's configuration, read once from the environment (README, The payments app). */
export interface AppConfig {
  port: number;
  database: DatabaseConfig;
  idempotencyStore: IdempotencyStoreKind;
  /** One URL for standalone Redis, several for a Redis Cluster's seed nodes. */
  redisUrls: string[];
  idempotencyTtlMs: number;
  idempotencyLockTimeoutMs: number;
  /** Bounds of the memory store: records in all, and records of one merchant (IDEMPOTENCY_STORE=memory). */
  memoryStoreMaxRecords: number;
  memoryStoreMaxRecordsPerScope: number;
  /** merchant id → API secret. */
  apiKeys: Map<string, string>;
  /** True when API_KEYS was not set and a demo merchant was made up. */
  demoMerchant: boolean;
  /**
   * The operators' key to the admin routes (`/admin/idempotency/...`, header `X-Admin-Key`); none: those routes do
   * not exist.
   */
  adminApiKey?: string;
  /** RabbitMQ to consume `payment.requested` messages from (AMQP_URL), and its queue; none: HTTP only. */
  amqp?: { url: string; queue: string };
}

/** A configuration value the app refuses to start with; the message names the variable. */
export class ConfigError extends Error {
  constructor(variable: string, problem: string) {
    super(`Invalid ${variable}: ${problem}`);
    this.name = 'ConfigError';
  }
}

/** What a merchant id may be (API_KEYS); the admin routes refuse any other. */
export const MERCHANT_ID = /^[A-Za-z0-9_-]{1,64}$/;

/** The shortest ADMIN_API_KEY the app accepts: the key opens every merchant's idempotency records. */
const MIN_ADMIN_KEY_LENGTH = 16;

/** The SQLite file used when DATABASE_URL is not set. */
export const DEFAULT_SQLITE_PATH = resolve(process.cwd(), 'data', 'payments.sqlite');

/**
 * Reads and checks every variable, so a typo stops start-up with a message naming the variable instead of
 * surfacing later as a wrong default. `generateSecret` makes the demo merchant's key when API_KEYS is unset.
 */
export function loadAppConfig(env: NodeJS.ProcessEnv, generateSecret: () => string): AppConfig {
  const apiKeys = parseApiKeys(env.API_KEYS);
  const demoMerchant = apiKeys === undefined;
  const merchantKeys = apiKeys ?? new Map([['demo', generateSecret()]]);
  const adminApiKey = parseAdminApiKey(env.ADMIN_API_KEY, merchantKeys);
  const ttlSeconds = integer(env, 'IDEMPOTENCY_TTL_SECONDS', 86_400, 1, 365 * 86_400);
  const lockTimeoutSeconds = integer(env, 'IDEMPOTENCY_LOCK_TIMEOUT_SECONDS', 30, 1, 86_400);
  // A record that expired while its request still ran would let the retry run the request a second time.
  if (lockTimeoutSeconds > ttlSeconds) {
    throw new ConfigError(
      'IDEMPOTENCY_TTL_SECONDS',
      `${ttlSeconds} is shorter than IDEMPOTENCY_LOCK_TIMEOUT_SECONDS (${lockTimeoutSeconds}); a record must live at least as long as its lease`,
    );
  }
  const memoryMax = integer(env, 'IDEMPOTENCY_MEMORY_MAX_RECORDS', 100_000, 1, 100_000_000);
  const memoryMaxPerScope = integer(
    env,
    'IDEMPOTENCY_MEMORY_MAX_RECORDS_PER_SCOPE',
    Math.min(10_000, memoryMax),
    1,
    100_000_000,
  );
  if (memoryMaxPerScope > memoryMax) {
    throw new ConfigError(
      'IDEMPOTENCY_MEMORY_MAX_RECORDS_PER_SCOPE',
      `${memoryMaxPerScope} is more than IDEMPOTENCY_MEMORY_MAX_RECORDS (${memoryMax})`,
    );
  }
  return {
    port: integer(env, 'PORT', 3000, 0, 65535),
    database: parseDatabaseUrl(env.DATABASE_URL, integer(env, 'DATABASE_POOL_SIZE', 20, 1, 1000)),
    idempotencyStore: parseStoreKind(env.IDEMPOTENCY_STORE),
    redisUrls: parseRedisUrls(env.REDIS_URL),
    idempotencyTtlMs: ttlSeconds * 1000,
    idempotencyLockTimeoutMs: lockTimeoutSeconds * 1000,
    memoryStoreMaxRecords: memoryMax,
    memoryStoreMaxRecordsPerScope: memoryMaxPerScope,
    apiKeys: merchantKeys,
    demoMerchant,
    amqp: parseAmqp(env.AMQP_URL, env.AMQP_QUEUE),
    ...(adminApiKey === undefined ? {} : { adminApiKey }),
  };
}

function integer(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw.trim())) throw new ConfigError(name, `"${raw}" is not a whole number`);
  const value = Number(raw.trim());
  if (value < min || value > max) throw new ConfigError(name, `${value} is outside ${min}..${max}`);
  return value;
}

function parseDatabaseUrl(raw: string | undefined, poolSize: number): DatabaseConfig {
  if (raw === undefined || raw === '') return { type: 'sqlite', path: DEFAULT_SQLITE_PATH };
  if (raw.startsWith('sqlite:')) {
    const path = raw.slice('sqlite:'.length).replace(/^\/\//, '');
    if (!path) throw new ConfigError('DATABASE_URL', 'sqlite: needs a file path, e.g. sqlite:data/payments.sqlite');
    return { type: 'sqlite', path: path === ':memory:' ? path : resolve(process.cwd(), path) };
  }
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError('DATABASE_URL', `"${raw}" is not a URL (postgres://…, mysql://… or sqlite:<path>)`);
  }
  if (url.protocol === 'postgres:' || url.protocol === 'postgresql:') return { type: 'postgres', url: raw, poolSize };
  if (url.protocol === 'mysql:' || url.protocol === 'mariadb:')
    return { type: 'mysql', url: raw.replace(/^mariadb:/, 'mysql:'), poolSize };
  throw new ConfigError('DATABASE_URL', `unsupported scheme "${url.protocol}" (postgres://, mysql:// or sqlite:)`);
}

function parseAmqp(url: string | undefined, queue: string | undefined): AppConfig['amqp'] {
  if (url === undefined || url === '') return undefined;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ConfigError('AMQP_URL', `"${url}" is not a URL (amqp://user:password@host:5672)`);
  }
  if (parsed.protocol !== 'amqp:' && parsed.protocol !== 'amqps:') {
    throw new ConfigError('AMQP_URL', `unsupported scheme "${parsed.protocol}" (amqp:// or amqps://)`);
  }
  const name = queue === undefined || queue === '' ? 'payments' : queue;
  if (name.length > 255) throw new ConfigError('AMQP_QUEUE', 'a queue name has at most 255 bytes');
  return { url, queue: name };
}

function parseStoreKind(raw: string | undefined): IdempotencyStoreKind {
  const value = raw === undefined || raw === '' ? 'typeorm' : raw;
  if (value === 'typeorm' || value === 'redis' || value === 'memory') return value;
  throw new ConfigError('IDEMPOTENCY_STORE', `"${raw}" is not one of typeorm, redis, memory`);
}

function parseRedisUrls(raw: string | undefined): string[] {
  const urls = (raw || 'redis://127.0.0.1:6379')
    .split(',')
    .map((url) => url.trim())
    .filter(Boolean);
  for (const url of urls) {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new ConfigError('REDIS_URL', `"${url}" is not a URL`);
    }
    if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
      throw new ConfigError('REDIS_URL', `"${url}" must start with redis:// or rediss://`);
    }
  }
  if (urls.length === 0) throw new ConfigError('REDIS_URL', 'no URL given');
  return urls;
}

function parseApiKeys(raw: string | undefined): Map<string, string> | undefined {
  if (raw === undefined || raw.trim() === '') return undefined;
  const keys = new Map<string, string>();
  for (const entry of raw
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean)) {
    const separator = entry.indexOf(':');
    const merchant = entry.slice(0, separator);
    const secret = entry.slice(separator + 1);
    if (separator <= 0 || !secret) {
      throw new ConfigError('API_KEYS', `"${entry}" is not merchantId:secret`);
    }
    if (!MERCHANT_ID.test(merchant)) {
      throw new ConfigError('API_KEYS', `merchant id "${merchant}" must be 1-64 letters, digits, _ or -`);
    }
    if (keys.has(merchant)) throw new ConfigError('API_KEYS', `merchant "${merchant}" appears twice`);
    if ([...keys.values()].includes(secret)) throw new ConfigError('API_KEYS', `two merchants share one secret`);
    keys.set(merchant, secret);
  }
  return keys;
}

function parseAdminApiKey(raw: string | undefined, merchantKeys: Map<string, string>): string | undefined {
  if (raw === undefined || raw === '') return undefined;
  if (raw.length < MIN_ADMIN_KEY_LENGTH || /\s/.test(raw)) {
    throw new ConfigError('ADMIN_API_KEY', `must be at least ${MIN_ADMIN_KEY_LENGTH} characters, without spaces`);
  }
  // One secret for two roles would let a merchant administer every merchant's records, or the admin act as one.
  if ([...merchantKeys.values()].includes(raw)) {
    throw new ConfigError('ADMIN_API_KEY', "it is a merchant's API key too; give the admin a key of its own");
  }
  return raw;
}
