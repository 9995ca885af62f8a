import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';

/** The database the shop runs on, from DATABASE_URL: SQLite (default) or PostgreSQL. */
export type OrdersDatabaseConfig =
  { type: 'sqlite'; path: string } | { type: 'postgres'; url: string; poolSize: number };

/** The shop's configuration, read once from the environment (README, The orders app). */
export interface OrdersConfig {
  port: number;
  database: OrdersDatabaseConfig;
  /** Base URL of the payments service, and the shop's merchant secret there. */
  paymentsUrl: string;
  paymentsApiKey: string;
  /** One try of a payment call, and all tries of one call together (the request's deadline). */
  paymentsAttemptTimeoutMs: number;
  paymentsDeadlineMs: number;
  /** How often pending orders are resumed. */
  recoveryIntervalMs: number;
  idempotencyLockTimeoutMs: number;
  /** caller id → API secret. */
  apiKeys: Map<string, string>;
}

/** A value the shop refuses to start with; the message names the variable. */
export class OrdersConfigError extends Error {
  constructor(variable: string, problem: string) {
    super(`Invalid ${variable}: ${problem}`);
    this.name = 'OrdersConfigError';
  }
}

/** The SQLite file used when DATABASE_URL is not set. */
export const DEFAULT_ORDERS_SQLITE_PATH = resolve(process.cwd(), 'data', 'orders.sqlite');

/** Where the payments app keeps its demo merchant's key (apps/payments, config/demo-api-key.ts). */
export const PAYMENTS_DEMO_KEY_PATH = resolve(process.cwd(), 'data', 'demo-api-key');

/**
 * Reads and checks every variable. PAYMENTS_API_KEY falls back to the payments app's demo key when that app ran
 * from the same directory, so the two samples work together with no set-up; API_KEYS has no default: a shop
 * must say who may place orders.
 */
export function loadOrdersConfig(env: NodeJS.ProcessEnv, paymentsDemoKeyPath = PAYMENTS_DEMO_KEY_PATH): OrdersConfig {
  const attemptTimeout = integer(env, 'PAYMENTS_ATTEMPT_TIMEOUT_MS', 3_000, 100, 600_000);
  const deadline = integer(env, 'PAYMENTS_DEADLINE_MS', 10_000, 100, 3_600_000);
  if (deadline < attemptTimeout) {
    throw new OrdersConfigError(
      'PAYMENTS_DEADLINE_MS',
      `${deadline} is shorter than PAYMENTS_ATTEMPT_TIMEOUT_MS (${attemptTimeout})`,
    );
  }
  const lockTimeoutSeconds = integer(env, 'IDEMPOTENCY_LOCK_TIMEOUT_SECONDS', 30, 1, 86_400);
  // A retry of POST /orders that takes over a lease still held by a live request would run it twice at once.
  if (lockTimeoutSeconds * 1000 <= deadline) {
    throw new OrdersConfigError(
      'IDEMPOTENCY_LOCK_TIMEOUT_SECONDS',
      `${lockTimeoutSeconds} s does not outlast PAYMENTS_DEADLINE_MS (${deadline} ms), the longest a request runs`,
    );
  }
  return {
    port: integer(env, 'PORT', 3001, 0, 65535),
    database: parseDatabaseUrl(env.DATABASE_URL, integer(env, 'DATABASE_POOL_SIZE', 10, 1, 1000)),
    paymentsUrl: parsePaymentsUrl(env.PAYMENTS_URL),
    paymentsApiKey: paymentsApiKey(env.PAYMENTS_API_KEY, paymentsDemoKeyPath),
    paymentsAttemptTimeoutMs: attemptTimeout,
    paymentsDeadlineMs: deadline,
    recoveryIntervalMs: integer(env, 'ORDERS_RECOVERY_INTERVAL_MS', 5_000, 10, 86_400_000),
    idempotencyLockTimeoutMs: lockTimeoutSeconds * 1000,
    apiKeys: parseApiKeys(env.API_KEYS),
  };
}

function integer(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name]?.trim();
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw)) throw new OrdersConfigError(name, `"${raw}" is not a whole number`);
  const value = Number(raw);
  if (value < min || value > max) throw new OrdersConfigError(name, `${value} is outside ${min}..${max}`);
  return value;
}

function parseDatabaseUrl(raw: string | undefined, poolSize: number): OrdersDatabaseConfig {
  if (raw === undefined || raw === '') return { type: 'sqlite', path: DEFAULT_ORDERS_SQLITE_PATH };
  if (raw.startsWith('sqlite:')) {
    const path = raw.slice('sqlite:'.length).replace(/^\/\//, '');
    if (!path) throw new OrdersConfigError('DATABASE_URL', 'sqlite: needs a file path, e.g. sqlite:data/orders.sqlite');
    return { type: 'sqlite', path: path === ':memory:' ? path : resolve(process.cwd(), path) };
  }
  if (/^postgres(ql)?:\/\//.test(raw)) return { type: 'postgres', url: raw, poolSize };
  throw new OrdersConfigError('DATABASE_URL', `"${raw}" is neither postgres://… nor sqlite:<path>`);
}

function parsePaymentsUrl(raw: string | undefined): string {
  const value = raw === undefined || raw === '' ? 'http://127.0.0.1:3000' : raw;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new OrdersConfigError('PAYMENTS_URL', `"${value}" is not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new OrdersConfigError('PAYMENTS_URL', `"${value}" must start with http:// or https://`);
  return value.replace(/\/+$/, '');
}

function paymentsApiKey(raw: string | undefined, demoKeyPath: string): string {
  if (raw !== undefined && raw.trim() !== '') return raw.trim();
  if (existsSync(demoKeyPath)) return readFileSync(demoKeyPath, 'utf8').trim();
  throw new OrdersConfigError(
    'PAYMENTS_API_KEY',
    `unset, and no payments demo key at ${demoKeyPath}; set it to the shop's API key at the payments service`,
  );
}

function parseApiKeys(raw: string | undefined): Map<string, string> {
  if (raw === undefined || raw.trim() === '')
    throw new OrdersConfigError('API_KEYS', 'unset; list who may place orders as callerId:secret,callerId:secret');
  const keys = new Map<string, string>();
  for (const entry of raw.split(',').map((part) => part.trim())) {
    const separator = entry.indexOf(':');
    const [caller, secret] = [entry.slice(0, separator), entry.slice(separator + 1)];
    if (separator < 0 || !/^[A-Za-z0-9_-]{1,64}$/.test(caller) || !secret)
      throw new OrdersConfigError(
        'API_KEYS',
        `"${entry}" is not callerId:secret (an id of 1-64 letters, digits, _ or -)`,
      );
    if (keys.has(caller)) throw new OrdersConfigError('API_KEYS', `caller "${caller}" appears twice`);
    if ([...keys.values()].includes(secret)) throw new OrdersConfigError('API_KEYS', 'two callers share one secret');
    keys.set(caller, secret);
  }
  return keys;
}
