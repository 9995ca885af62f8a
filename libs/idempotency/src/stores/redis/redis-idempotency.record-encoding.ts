// How a record's parts are written into Redis: the key's escaping and the fingerprint's compact form.

// A SHA-256 hex fingerprint (what the library computes) is kept as its 32 bytes, halving its share of a
// record; any other string is kept as UTF-8. The leading byte keeps the two forms from ever meeting.
const HEX_FINGERPRINT = /^[0-9a-f]{64}$/;
const BINARY = 1;
const TEXT = 0;

/** A part of a record's Redis key, with the characters the key's syntax uses escaped. */
export function escapeKeyPart(part: string): string {
  return /[%:{}]/.test(part) ? part.replace(/[%:{}]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`) : part;
}

/** The fingerprint as the scripts store it: a SHA-256 hex as its 32 bytes, anything else as UTF-8. */
export function encodeFingerprint(fingerprint: string): Buffer {
  // One allocation, written in place: this runs on every acquire.
  if (HEX_FINGERPRINT.test(fingerprint)) {
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
