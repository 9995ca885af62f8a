import { parseIdempotencyKey, parseIdempotencyKeyHeader } from './idempotency-key';

describe('parseIdempotencyKey', () => {
  it.each([
    ['a', 'a'],
    ['8e03978e-40d5-43e8-bc93-6894a57f9324', '8e03978e-40d5-43e8-bc93-6894a57f9324'],
    ['"8e03978e"', '8e03978e'],
    ['"a\\"b"', 'a"b'],
    ['"a\\\\b"', 'a\\b'],
    ['!~', '!~'],
    ['k'.repeat(255), 'k'.repeat(255)],
  ])('accepts %j as %j', (raw, key) => {
    expect(parseIdempotencyKey(raw)).toEqual({ status: 'valid', key });
  });

  it.each([
    ['', 'it is empty'],
    ['""', 'it is empty'],
    ['k'.repeat(256), 'it is longer than 255 characters'],
    ['"' + 'k'.repeat(256) + '"', 'it is longer than 255 characters'],
    ['a b', 'only visible ASCII characters (0x21-0x7E) are allowed'],
    ['tab\there', 'only visible ASCII characters (0x21-0x7E) are allowed'],
    ['zażółć', 'only visible ASCII characters (0x21-0x7E) are allowed'],
    ['"a b"', 'only visible ASCII characters (0x21-0x7E) are allowed'],
    ['"a"b"', 'malformed quoted string'],
    ['"a\\b"', 'malformed quoted string'],
  ])('refuses %j: %s', (raw, reason) => {
    expect(parseIdempotencyKey(raw)).toEqual({ status: 'invalid', reason });
  });

  it('reports no key as missing, and a repeated header as invalid', () => {
    expect(parseIdempotencyKey(undefined)).toEqual({ status: 'missing' });
    expect(parseIdempotencyKeyHeader([])).toEqual({ status: 'missing' });
    expect(parseIdempotencyKeyHeader(['a', 'a'])).toEqual({
      status: 'invalid',
      reason: 'the header was sent more than once',
    });
  });
});
