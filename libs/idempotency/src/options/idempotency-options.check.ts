import { IDEMPOTENCY_MAX_KEY_PREFIX_BYTES } from './idempotency.constants';
import { IdempotencyModuleOptions, IdempotentRouteOptions } from './idempotency-options.interface';

/**
 * Where a set of options was declared: the module's own take `events`, `localCache`, `telemetry`, `compression` and
 * `encryption`, a route's do not.
 */
export type IdempotencyOptionsLevel = 'module' | 'route';

type Check = (value: unknown) => string | undefined;

/** HTTP's token syntax (RFC 9110): what a header name may be made of. */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

const positiveWholeNumber: Check = (value) =>
  typeof value === 'number' && Number.isSafeInteger(value) && value > 0 ? undefined : 'a positive whole number';
const wholeNumber: Check = (value) =>
  typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? undefined : 'a whole number >= 0';
const boolean: Check = (value) => (typeof value === 'boolean' ? undefined : 'true or false');
const func =
  (what: string): Check =>
  (value) =>
    typeof value === 'function' ? undefined : what;
const headerNames: Check = (value) =>
  Array.isArray(value) && value.every((name) => typeof name === 'string' && HEADER_NAME.test(name))
    ? undefined
    : 'an array of HTTP header names';
const payloadPaths: Check = (value) =>
  Array.isArray(value) && value.every((path) => typeof path === 'string')
    ? undefined
    : 'an array of dot paths such as ["amount", "customer.id", "items.*.sku"]';
const object =
  (what: string): Check =>
  (value) =>
    typeof value === 'object' && value !== null && !Array.isArray(value) ? undefined : what;

const provider =
  (method: string, what: string): Check =>
  (value) =>
    typeof (value as Record<string, unknown> | null)?.[method] === 'function' ? undefined : what;

/** What each option must be, in words for the start-up error. */
const ROUTE_OPTIONS: Record<keyof IdempotentRouteOptions, Check> = {
  store: (value) =>
    typeof value === 'object' &&
    value !== null &&
    ['acquire', 'complete', 'release'].every((name) => typeof (value as Record<string, unknown>)[name] === 'function')
      ? undefined
      : 'an IdempotencyStore (an object with acquire, complete and release functions)',
  headerName: (value) => (typeof value === 'string' && HEADER_NAME.test(value) ? undefined : 'an HTTP header name'),
  key: func('a function of the execution context returning the key'),
  messageKeySpace: (value) => (value === 'separate' || value === 'shared' ? undefined : "'separate' or 'shared'"),
  maxMessageBytes: positiveWholeNumber,
  rmq: object('an object such as { noAck: false }'),
  required: boolean,
  ttl: positiveWholeNumber,
  lockTimeout: positiveWholeNumber,
  retryAfter: positiveWholeNumber,
  scope: func('a function of the execution context returning the scope'),
  fingerprint: object('an object such as { headers: ["x-tenant"], exclude: ["sentAt"] }'),
  replayHeaders: headerNames,
  storeResponse: func('a function of the response returning true to store it'),
  onConflict: (value) => {
    const wait = (value as { wait?: unknown } | null)?.wait;
    return value === 'reject' || (typeof wait === 'number' && Number.isSafeInteger(wait) && wait >= 0)
      ? undefined
      : "'reject' or { wait: ms >= 0 }";
  },
  failOpen: boolean,
  keyPrefix: (value) =>
    typeof value === 'string' && Buffer.byteLength(value) <= IDEMPOTENCY_MAX_KEY_PREFIX_BYTES
      ? undefined
      : `a string of at most ${IDEMPOTENCY_MAX_KEY_PREFIX_BYTES} bytes`,
  maxResponseBytes: positiveWholeNumber,
  transactional: boolean,
  errorFormat: (value) => (value === 'nest' || value === 'problem+json' ? undefined : "'nest' or 'problem+json'"),
};

const MODULE_OPTIONS: Record<keyof IdempotencyModuleOptions, Check> = {
  ...ROUTE_OPTIONS,
  events: func('a function receiving each event'),
  localCache: object('an object such as { maxEntries: 10000 }'),
  telemetry: (value) =>
    value === false || (typeof value === 'object' && value !== null && !Array.isArray(value))
      ? undefined
      : 'false or an object such as { meterProvider, tracerProvider }',
  compression: (value) =>
    value === false || (typeof value === 'object' && value !== null && !Array.isArray(value))
      ? undefined
      : 'false or an object such as { threshold: 512 }',
  encryption: object("an object such as { keys: { k1: <32-byte Buffer or base64> }, current: 'k1' }"),
};

/** The fields of the options that are objects, checked as `rmq.noAck` and so on. */
const FIELDS: Record<string, Record<string, Check>> = {
  rmq: { noAck: boolean },
  // What each path says is checked when the options are resolved, which names the path that is wrong.
  fingerprint: { headers: headerNames, include: payloadPaths, exclude: payloadPaths },
  localCache: { maxEntries: positiveWholeNumber },
  telemetry: {
    meterProvider: provider('getMeter', 'an OpenTelemetry MeterProvider (an object with a getMeter function)'),
    tracerProvider: provider('getTracer', 'an OpenTelemetry TracerProvider (an object with a getTracer function)'),
  },
  compression: { threshold: wholeNumber },
  // The keys themselves (32 bytes, ids) are checked where they are read, without ever printing one.
  encryption: {
    keys: object('an object of key id to 32-byte Buffer or base64 string'),
    current: (value) => (typeof value === 'string' ? undefined : 'the id of a key in "encryption.keys"'),
  },
};

/**
 * Refuses, with the option named, a value of the wrong type (`store: 'redis'`, `ttl: '60000'` read from the
 * environment) and an option name the library does not know (a typo such as `lockTimout`), so a bad configuration
 * stops start-up instead of failing every request. Undefined means not set. Ranges between options (a lease longer
 * than the TTL) are checked once the defaults are filled in.
 */
export function checkIdempotencyOptions(options: unknown, level: IdempotencyOptionsLevel): void {
  const where = level === 'module' ? 'IdempotencyModule options' : '@Idempotent() options';
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new Error(`The ${where} must be an object, got ${describeValue(options)}`);
  }
  const known: Record<string, Check> = level === 'module' ? MODULE_OPTIONS : ROUTE_OPTIONS;
  for (const [name, value] of Object.entries(options)) {
    if (!(name in known)) throw new Error(unknownOption(name, level));
    checkValue(name, value, known[name]);
    const fields = FIELDS[name];
    if (!fields || value === undefined || value === false) continue;
    for (const [field, fieldValue] of Object.entries(value as object)) {
      if (!(field in fields)) {
        throw new Error(`Unknown idempotency option "${name}.${field}"; known: ${Object.keys(fields).join(', ')}`);
      }
      checkValue(`${name}.${field}`, fieldValue, fields[field]);
    }
  }
}

function checkValue(name: string, value: unknown, check: Check): void {
  if (value === undefined) return;
  const expected = check(value);
  if (expected !== undefined) {
    // A misplaced key must not end up in a start-up log: say only what kind of value it was.
    const got = name === 'encryption' || name === 'encryption.keys' ? describeType(value) : describeValue(value);
    throw new Error(`Idempotency option "${name}" must be ${expected}, got ${got}`);
  }
}

function describeType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

function unknownOption(name: string, level: IdempotencyOptionsLevel): string {
  if (level === 'route' && name in MODULE_OPTIONS) {
    return `Idempotency option "${name}" is set on IdempotencyModule.forRoot(), not on a route`;
  }
  const names = Object.keys(level === 'module' ? MODULE_OPTIONS : ROUTE_OPTIONS);
  const near = names.find((known) => known.toLowerCase() === name.toLowerCase() || editDistance(known, name) <= 2);
  return `Unknown idempotency option "${name}"${near ? ` (did you mean "${near}"?)` : ''}; known: ${names.join(', ')}`;
}

/** A value as a start-up error shows it: its type named, so the string "60000" is not read as the number. */
function describeValue(value: unknown): string {
  if (typeof value === 'string') return `the string ${JSON.stringify(value)}`;
  if (typeof value === 'function') return 'a function';
  if (Array.isArray(value)) return `the array ${safeJson(value)}`;
  if (typeof value === 'object' && value !== null) {
    const name = value.constructor?.name;
    return name && name !== 'Object' ? `an instance of ${name}` : `the object ${safeJson(value)}`;
  }
  if (typeof value === 'bigint') return `the bigint ${value}n`;
  return String(value);
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/** Levenshtein distance, for "did you mean": option names are short, so the quadratic table is nothing. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length];
}
