// How a record's parts are written into Redis: the key's escaping and the fingerprint's compact form. Both run on
// every store call, so they scan characters in loops rather than test regular expressions (the fingerprint's test
// alone cost 1,500 instructions a request, counted under callgrind), and use the imported Buffer rather than the
// global one, which Node.js defines as a getter.
import { Buffer } from 'node:buffer';

// A SHA-256 hex fingerprint (what the library computes) is kept as its 32 bytes, halving its share of a
// record; any other string is kept as UTF-8. The leading byte keeps the two forms from ever meeting.
const BINARY = 1;
const TEXT = 0;
const KEY_SYNTAX = /[%:{}]/g;

/** A part of a record's Redis key, with the characters the key's syntax uses escaped. */
export function escapeKeyPart(part: string): string {
  for (let i = 0; i < part.length; i++) {
    const c = part.charCodeAt(i);
    // % : { }
    if (c === 0x25 || c === 0x3a || c === 0x7b || c === 0x7d) {
      return part.replace(KEY_SYNTAX, (char) => `%${char.charCodeAt(0).toString(16).toUpperCase()}`);
    }
  }
  return part;
}

/** The fingerprint as the scripts store it: a SHA-256 hex as its 32 bytes, anything else as UTF-8. */
export function encodeFingerprint(fingerprint: string): Buffer {
  // One allocation, written in place: this runs on every acquire.
  if (isLowerCaseSha256Hex(fingerprint)) {
    const encoded = Buffer.allocUnsafe(1 + fingerprint.length / 2);
    encoded[0] = BINARY;
    encoded.write(fingerprint, 1, 'hex');
    return encoded;
  }
  const encoded = Buffer.allocUnsafe(1 + Buffer.byteLength(fingerprint, 'utf8'));
  encoded[0] = TEXT;
  encoded.write(fingerprint, 1, 'utf8');
  return encoded;
}

/** The fingerprint as `encodeFingerprint` was given it. */
export function decodeFingerprint(encoded: Buffer): string {
  return encoded[0] === BINARY ? encoded.toString('hex', 1) : encoded.toString('utf8', 1);
}

/**
 * 64 characters of 0-9 and a-f. Lower case only: decoding gives the same bytes for upper-case hex, so an upper-case
 * fingerprint (one a caller chose) stored as bytes would come back lower-cased and no longer equal itself.
 */
function isLowerCaseSha256Hex(fingerprint: string): boolean {
  if (fingerprint.length !== 64) return false;
  for (let i = 0; i < 64; i++) {
    const c = fingerprint.charCodeAt(i);
    if (!((c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66))) return false;
  }
  return true;
}
