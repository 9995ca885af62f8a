import { canonicalize, fingerprintMessage, fingerprintRequest } from './fingerprint';

describe('fingerprintRequest', () => {
  const base = { method: 'POST', path: '/payments', body: { amount: 100, meta: { b: 2, a: 1 } } };

  it('is a SHA-256 hex digest that ignores object key order at every depth', () => {
    const fp = fingerprintRequest(base);
    expect(fp).toMatch(/^[0-9a-f]{64}$/);
    expect(fingerprintRequest({ ...base, body: { meta: { a: 1, b: 2 }, amount: 100 } })).toBe(fp);
  });

  it.each([
    ['method', { ...base, method: 'PUT' }],
    ['path', { ...base, path: '/payments/other' }],
    ['query', { ...base, path: '/payments?dryRun=true' }],
    ['body value', { ...base, body: { amount: 101, meta: { a: 1, b: 2 } } }],
    ['array order', { ...base, body: { amount: 100, meta: [1, 2] } }],
    ['value type', { ...base, body: { amount: '100', meta: { b: 2, a: 1 } } }],
    ['fingerprinted header', { ...base, headers: { 'x-tenant': 'a' } }],
  ])('changes with the %s', (_part, input) => {
    expect(fingerprintRequest(input)).not.toBe(fingerprintRequest(base));
  });

  it('cannot be fooled by moving characters between parts', () => {
    expect(fingerprintRequest({ method: 'POST', path: '/a', body: 'b' })).not.toBe(
      fingerprintRequest({ method: 'POST', path: '/ab', body: '' }),
    );
  });

  it('treats header names case-insensitively and in any order', () => {
    expect(fingerprintRequest({ ...base, headers: { 'X-A': '1', 'x-b': '2' } })).toBe(
      fingerprintRequest({ ...base, headers: { 'x-b': '2', 'x-a': '1' } }),
    );
  });
});

describe('fingerprintMessage', () => {
  const payload = { orderId: 'o-1', lines: [{ sku: 'a', qty: 2 }] };

  it('ignores object key order, as request bodies do', () => {
    const fp = fingerprintMessage('orders.created', payload);
    expect(fp).toMatch(/^[0-9a-f]{64}$/);
    expect(fingerprintMessage('orders.created', { lines: [{ qty: 2, sku: 'a' }], orderId: 'o-1' })).toBe(fp);
  });

  it.each([
    ['pattern', fingerprintMessage('orders.updated', payload)],
    ['payload', fingerprintMessage('orders.created', { ...payload, orderId: 'o-2' })],
    ['array order', fingerprintMessage('orders.created', { ...payload, lines: [...payload.lines, { sku: 'b' }] })],
  ])('changes with the %s', (_part, other) => {
    expect(other).not.toBe(fingerprintMessage('orders.created', payload));
  });

  it('never equals the fingerprint of a request with the same parts', () => {
    expect(fingerprintMessage('/orders', payload)).not.toBe(
      fingerprintRequest({ method: 'message', path: '/orders', body: payload }),
    );
  });
});

describe('canonicalize', () => {
  it('sorts keys, keeps arrays, and never throws on circular or BigInt values', () => {
    expect(canonicalize({ b: [3, 1], a: { d: 1, c: 2 } })).toBe('{"a":{"c":2,"d":1},"b":[3,1]}');
    const circular: Record<string, unknown> = { a: 1 };
    circular.self = circular;
    expect(() => canonicalize(circular)).not.toThrow();
    expect(canonicalize({ n: 10n })).toBe('{"n":10}');
    expect(canonicalize(undefined)).toBe('');
  });
});
