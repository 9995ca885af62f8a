import fc from 'fast-check';

/** One character of visible ASCII (0x21-0x7E): what a valid idempotency key is made of. */
export const visibleChar = fc.integer({ min: 0x21, max: 0x7e }).map((code) => String.fromCharCode(code));

/** Visible-ASCII strings of the given lengths. */
export function visibleString(minLength: number, maxLength: number): fc.Arbitrary<string> {
  return fc.string({ unit: visibleChar, minLength, maxLength });
}

/** A string of exactly `length` characters, without making fast-check build (and shrink) that many values. */
export function longString(minLength: number, maxLength: number): fc.Arbitrary<string> {
  return fc
    .tuple(visibleString(0, 32), visibleChar, fc.integer({ min: minLength, max: maxLength }))
    .map(([head, filler, length]) => (head + filler.repeat(length)).slice(0, length));
}

/** True when `value`, sent unquoted, would be read as the quoted form `"..."`. */
export function looksQuoted(value: string): boolean {
  return value.length >= 2 && value.startsWith('"') && value.endsWith('"');
}

/** The Structured Field string (RFC 8941 sf-string) form of a key: quoted, `\` and `"` escaped. */
export function quoteKey(key: string): string {
  return `"${key.replace(/[\\"]/g, (char) => `\\${char}`)}"`;
}

/** `Idempotency-Key` in a random mix of upper and lower case (header names are case-insensitive). */
export const keyHeaderName = fc
  .array(fc.boolean(), { minLength: 15, maxLength: 15 })
  .map((upper) => [...'idempotency-key'].map((char, i) => (upper[i] ? char.toUpperCase() : char)).join(''));

/** Optional whitespace around a header value, which the HTTP parser strips (RFC 9110 OWS). */
export const ows = fc.constantFrom('', ' ', '\t', '  ', ' \t ', '\t\t');

/** Inserts each `insert` into `base` at a position chosen by its index (modulo the allowed range). */
export function insertAll(
  base: number[],
  inserts: Array<{ at: number; bytes: number[] }>,
  from = 0,
  toFromEnd = 0,
): number[] {
  const out = [...base];
  for (const { at, bytes } of inserts) {
    const span = out.length - from - toFromEnd + 1;
    const position = span > 0 ? from + (at % span) : out.length;
    out.splice(position, 0, ...bytes);
  }
  return out;
}

/** The bytes of a Latin-1/ASCII string. */
export function bytesOf(text: string): number[] {
  return [...Buffer.from(text, 'latin1')];
}

/** `value` as the server parses it after `JSON.stringify` (-0 becomes 0, undefined fields vanish). */
export function roundTrip(value: unknown): unknown {
  const text = JSON.stringify(value);
  return text === undefined ? undefined : JSON.parse(text);
}

/** Characters no database stores as sent: U+0000 (PostgreSQL refuses it) and unpaired UTF-16 surrogates. */
export const unstorableChar = fc.constantFrom('\u0000', '\ud800', '\udbff', '\udc00', '\udfff');

/**
 * A string of a valid length (`minLength`–`maxLength` code points, counting the inserted one) with one
 * unstorable character somewhere in it; its neighbours are printable ASCII, so a surrogate stays unpaired.
 */
export function unstorableString(minLength: number, maxLength: number): fc.Arbitrary<string> {
  return fc
    .tuple(
      fc.string({ minLength: Math.max(0, minLength - 1), maxLength: Math.max(0, maxLength - 1) }),
      unstorableChar,
      fc.nat(),
    )
    .map(([text, char, at]) => {
      const position = at % (text.length + 1);
      return text.slice(0, position) + char + text.slice(position);
    });
}
