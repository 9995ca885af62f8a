import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { decodeFingerprint, encodeFingerprint, escapeKeyPart } from './redis-idempotency.record-encoding';

describe('escapeKeyPart', () => {
  it('escapes exactly % : { } as %XX, and leaves every other character as it is', () => {
    expect(escapeKeyPart('a%b:c{d}e')).toBe('a%25b%3Ac%7Bd%7De');
    expect(escapeKeyPart('')).toBe('');
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (part) => {
        const expected = part.replace(/[%:{}]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
        expect(escapeKeyPart(part)).toBe(expected);
      }),
      { numRuns: 1000 },
    );
  });

  it('keeps two different scope and key pairs apart in the record key', () => {
    const recordKey = (scope: string, key: string) => `ns:{${escapeKeyPart(scope)}:${escapeKeyPart(key)}}`;
    fc.assert(
      fc.property(fc.string(), fc.string(), fc.string(), fc.string(), (scopeA, keyA, scopeB, keyB) => {
        fc.pre(scopeA !== scopeB || keyA !== keyB);
        expect(recordKey(scopeA, keyA)).not.toBe(recordKey(scopeB, keyB));
      }),
      { numRuns: 1000 },
    );
    expect(recordKey('a:b', 'c')).not.toBe(recordKey('a', 'b:c'));
  });
});

describe('encodeFingerprint', () => {
  it('keeps a lower-case SHA-256 hex as its 32 bytes, and gives it back', () => {
    const fingerprint = createHash('sha256').update('x').digest('hex');
    const encoded = encodeFingerprint(fingerprint);
    expect(encoded.length).toBe(33);
    expect(decodeFingerprint(encoded)).toBe(fingerprint);
  });

  it('keeps anything else as UTF-8, so an upper-case hex or a near miss comes back unchanged', () => {
    const hex = createHash('sha256').update('x').digest('hex');
    for (const fingerprint of [hex.toUpperCase(), `${hex}0`, hex.slice(1), `${hex.slice(0, 63)}g`, '', 'é']) {
      const encoded = encodeFingerprint(fingerprint);
      expect(encoded.length).toBe(1 + Buffer.byteLength(fingerprint));
      expect(decodeFingerprint(encoded)).toBe(fingerprint);
    }
  });

  it('gives back every string it is given, and never one encoding for two fingerprints', () => {
    const fingerprints = fc.oneof(fc.string(), fc.stringMatching(/^[0-9a-fA-F]{64}$/));
    fc.assert(
      fc.property(fingerprints, fingerprints, (a, b) => {
        expect(decodeFingerprint(encodeFingerprint(a))).toBe(a);
        if (a !== b) expect(encodeFingerprint(a).equals(encodeFingerprint(b))).toBe(false);
      }),
      { numRuns: 1000 },
    );
  });
});
