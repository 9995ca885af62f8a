import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { canonicalize, fingerprintMessage, fingerprintRequest } from './fingerprint';
import { compilePayloadSelection } from '../options/payload-paths';

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

describe('fingerprints of a selected part of the payload', () => {
  const body = { amount: 100, customer: { id: 'c-1' }, sentAt: '13:00', traceId: 't-1' };
  const request = { method: 'POST', path: '/payments', body };
  const onlyAmount = compilePayloadSelection({ include: ['amount', 'customer.id'] });
  const withoutNoise = compilePayloadSelection({ exclude: ['sentAt', 'traceId'] });

  it('with exclude, ignores the excluded fields and nothing else', () => {
    const fp = fingerprintRequest({ ...request, selection: withoutNoise });
    const retried = { ...body, sentAt: '13:05', traceId: 't-2' };
    expect(fingerprintRequest({ ...request, body: retried, selection: withoutNoise })).toBe(fp);
    expect(fingerprintRequest({ ...request, body: { ...retried, amount: 101 }, selection: withoutNoise })).not.toBe(fp);
  });

  it('with exclude, equals the whole-body fingerprint of a body that has none of the excluded fields', () => {
    const plain = { amount: 100 };
    expect(fingerprintRequest({ ...request, body: plain, selection: withoutNoise })).toBe(
      fingerprintRequest({ ...request, body: plain }),
    );
  });

  it('with include, counts only the included fields, and an absent one differs from null', () => {
    const fp = fingerprintRequest({ ...request, selection: onlyAmount });
    expect(fingerprintRequest({ ...request, body: { ...body, note: 'x' }, selection: onlyAmount })).toBe(fp);
    expect(fingerprintRequest({ ...request, body: { ...body, amount: 1 }, selection: onlyAmount })).not.toBe(fp);
    expect(fingerprintRequest({ ...request, body: { amount: 100 }, selection: onlyAmount })).not.toBe(
      fingerprintRequest({ ...request, body: { amount: 100, customer: { id: null } }, selection: onlyAmount }),
    );
  });

  it('with include, never equals the fingerprint of a body that is the selected list itself', () => {
    const selected = [
      [['amount'], 100],
      [['customer', 'id'], 'c-1'],
    ];
    expect(fingerprintRequest({ ...request, selection: onlyAmount })).not.toBe(
      fingerprintRequest({ ...request, body: selected }),
    );
  });

  it('keeps method, path and headers in, whatever the selection', () => {
    const fp = fingerprintRequest({ ...request, selection: onlyAmount });
    expect(fingerprintRequest({ ...request, method: 'PUT', selection: onlyAmount })).not.toBe(fp);
    expect(fingerprintRequest({ ...request, path: '/refunds', selection: onlyAmount })).not.toBe(fp);
    expect(fingerprintRequest({ ...request, headers: { 'x-tenant': 'a' }, selection: onlyAmount })).not.toBe(fp);
  });

  it('applies to a message payload, and keeps its pattern in', () => {
    const fp = fingerprintMessage('orders.created', body, withoutNoise);
    expect(fingerprintMessage('orders.created', { ...body, sentAt: '13:05' }, withoutNoise)).toBe(fp);
    expect(fingerprintMessage('orders.created', { ...body, amount: 1 }, withoutNoise)).not.toBe(fp);
    expect(fingerprintMessage('orders.updated', body, withoutNoise)).not.toBe(fp);
  });
});

describe('fingerprints stay what they were', () => {
  // Records written by earlier versions hold these digests: a retry across an upgrade must still match its record.
  it.each([
    [
      { method: 'POST', path: '/payments?x="y"', body: { amount: 100, meta: { b: 2, a: '"\\é\ud83d\ude00' } } },
      'b073acf95f777d0ff12bb9b29468c2754d69119eae8045b5ae07f2589b02662b',
    ],
    [
      { method: 'post', path: '/p', body: 'raw "text"', headers: { 'X-Tenant': 'a', 'x-b': undefined } },
      '3b73682d2e2284df182055b20879fb7196bfdd3468691ba85f9e663df9885620',
    ],
    [
      { method: 'PUT', path: '/p', body: undefined },
      '7b150d7b5197eec530d7919b449a786a76e0334ae74cdecd45a0da4e471c5666',
    ],
  ])('fingerprintRequest(%j) is %s', (input, digest) => {
    expect(fingerprintRequest(input)).toBe(digest);
  });

  it('fingerprintMessage keeps its digest', () => {
    expect(fingerprintMessage('orders.created', { orderId: 'o-1' })).toBe(
      'dc2aa6aeafa0d9a667a965aa8e762867ea74d8cdd0de2ac608303c33530d31d6',
    );
  });

  it('hashes exactly the JSON array of method, path, canonical body and sorted headers, whatever the characters', () => {
    fc.assert(
      fc.property(
        fc.string(),
        fc.oneof(fc.string(), fc.constant(undefined as unknown as string)),
        fc.oneof(fc.string({ unit: 'binary' }), fc.jsonValue()),
        fc.option(fc.dictionary(fc.string(), fc.option(fc.string(), { nil: undefined })), { nil: undefined }),
        (method, path, body, headers) => {
          const sorted = headers
            ? Object.keys(headers)
                .map((name) => [name.toLowerCase(), headers[name] ?? null])
                .sort(([a], [b]) => (a! < b! ? -1 : a! > b! ? 1 : 0))
            : [];
          const material = JSON.stringify([method.toUpperCase(), path, canonicalize(body), sorted]);
          expect(fingerprintRequest({ method, path, body, headers })).toBe(
            createHash('sha256').update(material).digest('hex'),
          );
        },
      ),
      { numRuns: 500 },
    );
  });
});
