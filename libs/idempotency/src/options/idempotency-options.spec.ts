import { resolveIdempotencyOptions } from './idempotency-options';

describe('resolveIdempotencyOptions: the payload part of the fingerprint', () => {
  const module = resolveIdempotencyOptions({ fingerprint: { headers: ['X-Tenant'], exclude: ['sentAt'] } });

  it('fingerprints the whole payload unless include or exclude says otherwise', () => {
    expect(resolveIdempotencyOptions({}).fingerprintSelection).toBeUndefined();
    expect(module.fingerprintSelection).toEqual({ mode: 'exclude', paths: [['sentAt']] });
  });

  it("keeps the module's selection on a route that sets only headers, and its headers on one that selects", () => {
    const headersOnly = resolveIdempotencyOptions({ fingerprint: { headers: ['x-region'] } }, module);
    expect(headersOnly.fingerprintSelection).toBe(module.fingerprintSelection);
    const selecting = resolveIdempotencyOptions({ fingerprint: { include: ['amount'] } }, module);
    expect(selecting.fingerprintHeaders).toEqual(['x-tenant']);
  });

  it("replaces the module's selection as a whole, and an empty exclude undoes it", () => {
    const including = resolveIdempotencyOptions({ fingerprint: { include: ['amount'] } }, module);
    expect(including.fingerprintSelection).toEqual({ mode: 'include', paths: [['amount']] });
    const whole = resolveIdempotencyOptions({ fingerprint: { exclude: [] } }, module);
    expect(whole.fingerprintSelection).toBeUndefined();
  });

  it('refuses a bad path at resolution, module and route alike', () => {
    expect(() => resolveIdempotencyOptions({ fingerprint: { exclude: ['meta.'] } })).toThrow(
      'Idempotency option "fingerprint.exclude": the path "meta." has an empty segment',
    );
    expect(() => resolveIdempotencyOptions({ fingerprint: { include: ['a'], exclude: ['b'] } }, module)).toThrow(
      'exclude each other',
    );
  });
});
