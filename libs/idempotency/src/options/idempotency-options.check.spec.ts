import { resolveIdempotencyOptions } from './idempotency-options';
import { checkIdempotencyOptions } from './idempotency-options.check';
import { MemoryIdempotencyStore } from '../stores/memory/memory-idempotency.store';

describe('checkIdempotencyOptions', () => {
  it.each<[string, Record<string, unknown>, string]>([
    [
      'a store named as a string',
      { store: 'redis' },
      'Idempotency option "store" must be an IdempotencyStore (an object with acquire, complete and release functions), got the string "redis"',
    ],
    [
      'a store without release',
      { store: { acquire() {}, complete() {} } },
      'Idempotency option "store" must be an IdempotencyStore',
    ],
    ['a header name with a space', { headerName: 'Idempotency Key' }, '"headerName" must be an HTTP header name'],
    ['a key that is not a function', { key: 'messageId' }, '"key" must be a function'],
    ['rmq as a boolean', { rmq: true }, '"rmq" must be an object such as { noAck: false }, got true'],
    ['rmq.noAck as a string', { rmq: { noAck: 'no' } }, '"rmq.noAck" must be true or false, got the string "no"'],
    ['required as a string', { required: 'false' }, '"required" must be true or false, got the string "false"'],
    [
      'ttl read from the environment',
      { ttl: '60000' },
      '"ttl" must be a positive whole number, got the string "60000"',
    ],
    ['a fractional lockTimeout', { lockTimeout: 1.5 }, '"lockTimeout" must be a positive whole number, got 1.5'],
    ['a zero retryAfter', { retryAfter: 0 }, '"retryAfter" must be a positive whole number, got 0'],
    ['a scope that is a string', { scope: 'tenant' }, '"scope" must be a function'],
    ['fingerprint as an array', { fingerprint: ['x-tenant'] }, '"fingerprint" must be an object'],
    [
      'fingerprint.headers as a string',
      { fingerprint: { headers: 'x-tenant' } },
      '"fingerprint.headers" must be an array',
    ],
    [
      'fingerprint.include as a string',
      { fingerprint: { include: 'amount' } },
      '"fingerprint.include" must be an array of dot paths such as ["amount", "customer.id", "items.*.sku"], got the string "amount"',
    ],
    [
      'a fingerprint.exclude entry that is not a string',
      { fingerprint: { exclude: ['sentAt', 7] } },
      '"fingerprint.exclude" must be an array of dot paths such as ["amount", "customer.id", "items.*.sku"], got the array ["sentAt",7]',
    ],
    [
      'a fingerprint field typo',
      { fingerprint: { exlude: ['sentAt'] } },
      'Unknown idempotency option "fingerprint.exlude"',
    ],
    ['replayHeaders as a string', { replayHeaders: 'etag' }, '"replayHeaders" must be an array of HTTP header names'],
    ['storeResponse as a boolean', { storeResponse: true }, '"storeResponse" must be a function'],
    ['onConflict as a string', { onConflict: 'wait' }, `"onConflict" must be 'reject' or { wait: ms >= 0 }`],
    ['a negative wait', { onConflict: { wait: -1 } }, `"onConflict" must be 'reject' or { wait: ms >= 0 }`],
    ['failOpen as a string', { failOpen: 'true' }, '"failOpen" must be true or false, got the string "true"'],
    ['keyPrefix as a number', { keyPrefix: 7 }, '"keyPrefix" must be a string of at most 64 bytes, got 7'],
    [
      'keyPrefix too long for the SQL store',
      { keyPrefix: 'p'.repeat(65) },
      '"keyPrefix" must be a string of at most 64 bytes, got the string "ppp',
    ],
    [
      'maxResponseBytes as null',
      { maxResponseBytes: null },
      '"maxResponseBytes" must be a positive whole number, got null',
    ],
    ['transactional as a string', { transactional: 'yes' }, '"transactional" must be true or false'],
    ['errorFormat xml', { errorFormat: 'xml' }, `"errorFormat" must be 'nest' or 'problem+json', got the string "xml"`],
    ['events as an object', { events: {} }, '"events" must be a function receiving each event, got the object {}'],
    ['localCache as a number', { localCache: 100 }, '"localCache" must be an object'],
    ['localCache.maxEntries as a string', { localCache: { maxEntries: '100' } }, '"localCache.maxEntries" must be'],
    [
      'compression as true',
      { compression: true },
      '"compression" must be false or an object such as { threshold: 512 }',
    ],
    ['a negative threshold', { compression: { threshold: -1 } }, '"compression.threshold" must be a whole number >= 0'],
    ['a threshold typo', { compression: { treshold: 1 } }, 'Unknown idempotency option "compression.treshold"'],
    ['encryption as a key', { encryption: 'c2VjcmV0' }, '"encryption" must be an object such as { keys: { k1:'],
    ['encryption.keys as a key', { encryption: { keys: 'c2VjcmV0' } }, '"encryption.keys" must be an object'],
    ['encryption.current as a number', { encryption: { current: 1 } }, '"encryption.current" must be the id of'],
    ['a typo', { lockTimout: 1_000 }, 'Unknown idempotency option "lockTimout" (did you mean "lockTimeout"?)'],
    ['another case', { ttL: 1_000 }, 'Unknown idempotency option "ttL" (did you mean "ttl"?)'],
    ['a nested typo', { rmq: { noack: false } }, 'Unknown idempotency option "rmq.noack"'],
  ])('refuses %s, naming the option and the type of its value', (_case, options, message) => {
    expect(() => checkIdempotencyOptions(options, 'module')).toThrow(message);
  });

  it('never shows a misplaced encryption key in its message', () => {
    for (const options of [{ encryption: 'c2VjcmV0' }, { encryption: { keys: 'c2VjcmV0' } }]) {
      expect(() => checkIdempotencyOptions(options, 'module')).toThrow(/got a string$/);
    }
  });

  it('refuses the module-only options on a route, saying where they go', () => {
    expect(() => checkIdempotencyOptions({ events: () => undefined }, 'route')).toThrow(
      'Idempotency option "events" is set on IdempotencyModule.forRoot(), not on a route',
    );
  });

  it('accepts every option with a value of its type, and undefined as not set', () => {
    expect(() =>
      checkIdempotencyOptions(
        {
          store: new MemoryIdempotencyStore(),
          headerName: 'X-Key',
          key: () => 'k',
          rmq: { noAck: false },
          required: false,
          ttl: 60_000,
          lockTimeout: 1_000,
          retryAfter: 500,
          scope: undefined,
          fingerprint: { headers: ['x-tenant'], exclude: ['sentAt'] },
          replayHeaders: ['etag'],
          storeResponse: () => true,
          onConflict: { wait: 0 },
          failOpen: true,
          keyPrefix: '',
          maxResponseBytes: 1_024,
          transactional: false,
          errorFormat: 'problem+json',
          events: () => undefined,
          localCache: { maxEntries: 10 },
          compression: { threshold: 0 },
          encryption: { keys: { k1: Buffer.alloc(32) }, current: 'k1' },
        },
        'module',
      ),
    ).not.toThrow();
  });

  it('is what resolveIdempotencyOptions applies to module and route options alike', () => {
    expect(() => resolveIdempotencyOptions({ ttl: '60000' as never })).toThrow('got the string "60000"');
    const base = resolveIdempotencyOptions({});
    expect(() => resolveIdempotencyOptions({ lockTimout: 5 } as never, base)).toThrow('did you mean "lockTimeout"?');
  });
});
