/** A call's body as bytes, made once: every attempt sends exactly these. */
export interface SerialisedBody {
  bytes: Uint8Array;
  /** The content type the serialisation implies, unless the caller gives one. */
  contentType?: string;
}

/** Serialises the body once: strings as UTF-8, bytes as they are, anything else as JSON. */
export function serialiseBody(body: unknown): SerialisedBody | undefined {
  if (body === undefined) return undefined;
  if (typeof body === 'string') return { bytes: Buffer.from(body, 'utf8'), contentType: 'text/plain; charset=utf-8' };
  if (body instanceof Uint8Array) return { bytes: body, contentType: 'application/octet-stream' };
  const json = JSON.stringify(body);
  if (json === undefined) throw new TypeError(`The request body (a ${typeof body}) cannot be serialised as JSON`);
  return { bytes: Buffer.from(json, 'utf8'), contentType: 'application/json' };
}

/** The answer's body: JSON when its content type says so (the text when it does not parse), else the text. */
export function parseResponseBody(text: string, contentType: string | undefined): unknown {
  if (text === '') return undefined;
  if (contentType && /[/+]json\b/i.test(contentType)) {
    try {
      return JSON.parse(text);
    } catch {
      return text;
    }
  }
  return text;
}
