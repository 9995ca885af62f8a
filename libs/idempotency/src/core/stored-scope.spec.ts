import { createHash } from 'node:crypto';
import { storableScope } from './stored-scope';

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

describe('storableScope', () => {
  it('stores an ordinary scope as itself, up to 128 bytes', () => {
    for (const scope of [
      '',
      'merchant-1',
      'alice@example.com',
      'é'.repeat(64),
      'x'.repeat(128),
      'sha256',
      'SHA256:abc',
      'a-sha256:b',
    ]) {
      expect(storableScope(scope)).toBe(scope);
    }
  });

  it('stores a scope over 128 bytes as its SHA-256', () => {
    const long = 'u'.repeat(200);
    expect(storableScope(long)).toBe(`sha256:${sha256(long)}`);
    // 65 two-byte characters: 130 bytes, though only 65 UTF-16 units.
    expect(storableScope('é'.repeat(65))).toBe(`sha256:${sha256('é'.repeat(65))}`);
  });

  it('never lets a literal scope equal the stored form of a long one (a principal named after the hash of a victim)', () => {
    const victim = 'v'.repeat(200);
    const attacker = `sha256:${sha256(victim)}`;
    expect(storableScope(attacker)).not.toBe(storableScope(victim));
    expect(storableScope(attacker)).toBe(`sha256:${sha256(attacker)}`);
  });

  it("hashes any scope that begins with the hashed form's prefix, even a short one", () => {
    expect(storableScope('sha256:')).toBe(`sha256:${sha256('sha256:')}`);
    expect(storableScope('sha256:x')).toBe(`sha256:${sha256('sha256:x')}`);
  });

  it('gives distinct stored forms to distinct scopes across both forms', () => {
    const scopes = [
      '',
      'a',
      'sha256:',
      'sha256:a',
      'x'.repeat(128),
      'x'.repeat(129),
      `sha256:${sha256('x'.repeat(129))}`,
    ];
    expect(new Set(scopes.map(storableScope)).size).toBe(scopes.length);
  });
});
