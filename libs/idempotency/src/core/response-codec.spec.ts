import { randomBytes } from 'node:crypto';
import { deflateRawSync } from 'node:zlib';
import { ResponseCodec } from './response-codec';
import { readStoredResponse } from './stored-response';
import { IdempotencyRecordId } from '../stores/idempotency-store';

const id: IdempotencyRecordId = { namespace: 'idempotency', scope: 'tenant-a', key: 'k-1' };
const MAX = 1024 * 1024;
const k1 = randomBytes(32);
const k2 = randomBytes(32);

/** A response of about `bytes` bytes of realistic, compressible JSON. */
function response(bytes: number): string {
  const items = [];
  for (let i = 0; JSON.stringify(items).length < bytes - 40; i++) {
    items.push({ id: `item-${i}`, name: 'Espresso machine', quantity: i % 4, currency: 'EUR' });
  }
  return JSON.stringify({ status: 200, headers: {}, body: items });
}

describe('ResponseCodec', () => {
  describe('compression', () => {
    const codec = new ResponseCodec({ threshold: 512 });

    it('stores a response at or above the threshold deflated behind the marker, and reads it back', () => {
      const json = response(2000);
      const stored = codec.encode(json, id);
      expect(stored.startsWith('~d')).toBe(true);
      expect(stored.length).toBeLessThan(json.length / 2);
      expect(codec.decode(stored, id, MAX)).toBe(json);
    });

    it('keeps a response one byte under the threshold plain, and one at it compressed', () => {
      const at = `{"a":"${'x'.repeat(512 - 8)}"}`;
      const under = at.replace('xx', 'x');
      expect(Buffer.byteLength(at)).toBe(512);
      expect(codec.encode(under, id)).toBe(under);
      expect(codec.encode(at, id).startsWith('~d')).toBe(true);
    });

    it('counts UTF-8 bytes, not characters, against the threshold', () => {
      const json = `{"a":"${'é'.repeat(260)}"}`;
      expect(json.length).toBeLessThan(512);
      const stored = codec.encode(json, id);
      expect(stored.startsWith('~d')).toBe(true);
      expect(codec.decode(stored, id, MAX)).toBe(json);
    });

    it('keeps plain a response that base64 would make larger than it is', () => {
      const json = JSON.stringify({ noise: randomBytes(600).toString('base64') });
      expect(codec.encode(json, id)).toBe(json);
    });

    it('stores everything plain with compression: false', () => {
      const json = response(4000);
      expect(new ResponseCodec(false).encode(json, id)).toBe(json);
    });

    it('reads records written before compression (plain JSON), whatever the options', () => {
      const json = response(4000);
      expect(codec.decode(json, id, MAX)).toBe(json);
      expect(new ResponseCodec(false).decode(codec.encode(json, id), id, MAX)).toBe(json);
    });

    it('refuses corrupt base64 rather than decoding what Node would skip', () => {
      const stored = codec.encode(response(2000), id);
      expect(() => codec.decode(`${stored.slice(0, 10)}*${stored.slice(11)}`, id, MAX)).toThrow(/not valid base64/);
      expect(() => codec.decode(`${stored}A`, id, MAX)).toThrow(/not valid base64/);
    });

    it('refuses a truncated record', () => {
      const compressed = deflateRawSync(Buffer.from(response(2000)));
      const truncated = `~d${compressed.subarray(0, compressed.length - 9).toString('base64')}`;
      expect(() => codec.decode(truncated, id, MAX)).toThrow(/corrupt/);
    });

    it('refuses garbage behind the marker', () => {
      expect(() => codec.decode(`~d${randomBytes(300).toString('base64')}`, id, MAX)).toThrow(/corrupt|UTF-8/);
      expect(() => codec.decode('~x', id, MAX)).toThrow(/unknown format/);
    });

    it('inflates no more than maxBytes: a decompression bomb is refused, not expanded', () => {
      const bomb = deflateRawSync(Buffer.alloc(64 * 1024 * 1024, 0x20), { level: 9 });
      expect(bomb.length).toBeLessThan(100_000);
      const before = process.memoryUsage().arrayBuffers;
      expect(() => codec.decode(`~d${bomb.toString('base64')}`, id, MAX)).toThrow(/inflates past 1048576 bytes/);
      expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(16 * 1024 * 1024);
    });

    it('turns an unreadable record into one error for the caller (503 path), and parses a good one', () => {
      const json = response(2000);
      expect(readStoredResponse(codec.encode(json, id), codec, id, MAX)).toEqual(JSON.parse(json));
      expect(() => readStoredResponse('~dAAAA', codec, id, MAX)).toThrow(/stored response cannot be decoded/);
      expect(() => readStoredResponse('{oops', codec, id, MAX)).toThrow(/stored response is not valid JSON/);
    });
  });

  describe('encryption', () => {
    const sealing = (current: string, keys: Record<string, Buffer | string>) =>
      new ResponseCodec({ threshold: 512 }, { keys, current });
    const codec = sealing('k1', { k1 });

    it.each([
      ['a small response (sealed as it is)', 100],
      ['a large one (compressed, then sealed)', 5000],
    ])('round-trips %s, without its plaintext in the record', (_name, size) => {
      const json = response(size);
      const stored = codec.encode(json, id);
      expect(stored.startsWith('~ek1:')).toBe(true);
      expect(stored).not.toContain('Espresso');
      expect(Buffer.from(stored.slice(5), 'base64').toString('latin1')).not.toContain('Espresso');
      expect(codec.decode(stored, id, MAX)).toBe(json);
    });

    it('compresses from 128 bytes by default when sealing, since base64 is paid either way', () => {
      const json = response(300);
      const byDefault = new ResponseCodec(undefined, { keys: { k1 }, current: 'k1' });
      const sealedAsItIs = sealing('k1', { k1 });
      const compressed = byDefault.encode(json, id);
      expect(compressed.length).toBeLessThan(sealedAsItIs.encode(json, id).length);
      expect(byDefault.decode(compressed, id, MAX)).toBe(json);
      expect(new ResponseCodec(undefined).encode(json, id)).toBe(json);
    });

    it('uses a fresh IV per record: the same response twice is two different records', () => {
      const json = response(100);
      expect(codec.encode(json, id)).not.toBe(codec.encode(json, id));
    });

    it('takes keys as base64 strings too', () => {
      const stored = sealing('k1', { k1: k1.toString('base64') }).encode(response(100), id);
      expect(codec.decode(stored, id, MAX)).toBe(response(100));
    });

    it('rotates: records sealed with an old key read while it is kept; without it they are refused', () => {
      const json = response(3000);
      const underK1 = codec.encode(json, id);
      const rotated = sealing('k2', { k1, k2 });
      expect(rotated.encode(json, id).startsWith('~ek2:')).toBe(true);
      expect(rotated.decode(underK1, id, MAX)).toBe(json);
      expect(() => sealing('k2', { k2 }).decode(underK1, id, MAX)).toThrow(/key "k1", which is no longer/);
    });

    it('refuses a record under the wrong key for its id', () => {
      const stored = codec.encode(response(100), id);
      expect(() => sealing('k1', { k1: k2 }).decode(stored, id, MAX)).toThrow(/does not authenticate/);
    });

    it('refuses a ciphertext moved to another record (another tenant, key or namespace)', () => {
      const stored = codec.encode(response(3000), id);
      for (const other of [
        { ...id, scope: 'tenant-b' },
        { ...id, key: 'k-2' },
        { ...id, namespace: 'other' },
        // The parts are length-prefixed: moving a character from scope to key is another id.
        { ...id, scope: 'tenant-', key: 'ak-1' },
      ]) {
        expect(() => codec.decode(stored, other, MAX)).toThrow(/does not authenticate/);
      }
    });

    it('refuses a tampered ciphertext, a relabelled key id, and a truncated record', () => {
      const stored = codec.encode(response(3000), id);
      const sealed = Buffer.from(stored.slice(5), 'base64');
      sealed[20] ^= 1;
      expect(() => codec.decode(`~ek1:${sealed.toString('base64')}`, id, MAX)).toThrow(/does not authenticate/);
      const both = sealing('k1', { k1, k2: k1 });
      expect(() => both.decode(stored.replace('~ek1:', '~ek2:'), id, MAX)).toThrow(/does not authenticate/);
      expect(() => codec.decode(`~ek1:${sealed.subarray(0, 20).toString('base64')}`, id, MAX)).toThrow(/truncated/);
      expect(() => codec.decode('~ek1', id, MAX)).toThrow(/no key id/);
    });

    it('refuses a sealed record when encryption is off, and reads plain and compressed records when on', () => {
      const json = response(3000);
      expect(() => new ResponseCodec({}).decode(codec.encode(json, id), id, MAX)).toThrow(/"encryption" option/);
      expect(codec.decode(json, id, MAX)).toBe(json);
      expect(codec.decode(new ResponseCodec({}).encode(json, id), id, MAX)).toBe(json);
    });

    it('refuses bad keys at construction, never showing a key', () => {
      const secret = randomBytes(16).toString('base64');
      const attempts: Array<[Record<string, unknown>, string, RegExp]> = [
        [{ k1: secret }, 'k1', /"encryption.keys.k1" must be 32 bytes \(AES-256\), got 16/],
        [{ k1: 'not base64!' }, 'k1', /not valid base64/],
        [{ k1: 42 }, 'k1', /must be a Buffer or a base64 string/],
        [{ 'k:1': k1 }, 'k:1', /ids must be 1-32 of/],
        [{ k1 }, 'k2', /"encryption.current" must name one of "encryption.keys" \(k1\), got "k2"/],
        [{}, 'k1', /at least one key/],
      ];
      for (const [keys, current, message] of attempts) {
        let error: Error | undefined;
        try {
          sealing(current, keys as Record<string, Buffer>);
        } catch (thrown) {
          error = thrown as Error;
        }
        expect(error?.message).toMatch(message);
        expect(error?.message).not.toContain(secret);
        expect(error?.message).not.toContain(k1.toString('base64'));
      }
    });
  });
});
