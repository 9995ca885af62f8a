import net from 'node:net';

/**
 * A deliberately dumb HTTP/1.1 client over a raw TCP socket. Node's own client (and supertest) refuses to
 * send header values with control characters or bytes above 0x7F, and normalises what it does send; the
 * fuzz suites need to put exact bytes on the wire, so they write the request themselves and parse the
 * status line and headers of whatever comes back. One request per connection (`Connection: close`).
 */

/** A header as it goes on the wire: the value is either a string (written as Latin-1, one byte a char) or raw bytes. */
export type RawHeader = readonly [name: string, value: string | Buffer];

export interface RawRequest {
  method?: string;
  path: string;
  headers: readonly RawHeader[];
  body?: Buffer;
  /**
   * How the body is framed: `length` adds `Content-Length` (the default), `chunked` sends it in
   * `Transfer-Encoding: chunked` chunks of `chunkSize` bytes, `none` adds neither (the caller's headers frame it).
   */
  framing?: 'length' | 'chunked' | 'none';
  chunkSize?: number;
}

export interface RawResponse {
  status: number;
  reason: string;
  /** Lower-cased header names; every occurrence kept. */
  headers: Record<string, string[]>;
  /** The body decoded as UTF-8 (de-chunked if the server chunked it). */
  body: string;
  /** The whole response as received, for failure messages. */
  raw: string;
}

/** Serialises a request to the bytes that go on the wire. `Host` and `Connection: close` come first. */
export function encodeRequest(request: RawRequest): Buffer {
  const body = request.body ?? Buffer.alloc(0);
  const framing = request.framing ?? 'length';
  const parts: Buffer[] = [
    Buffer.from(
      `${request.method ?? 'POST'} ${request.path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n`,
      'latin1',
    ),
  ];
  for (const [name, value] of request.headers) {
    parts.push(
      Buffer.from(`${name}: `, 'latin1'),
      typeof value === 'string' ? Buffer.from(value, 'latin1') : value,
      Buffer.from('\r\n', 'latin1'),
    );
  }
  if (framing === 'length') parts.push(Buffer.from(`Content-Length: ${body.length}\r\n`, 'latin1'));
  if (framing === 'chunked') parts.push(Buffer.from('Transfer-Encoding: chunked\r\n', 'latin1'));
  parts.push(Buffer.from('\r\n', 'latin1'));
  if (framing === 'chunked') {
    const size = Math.max(1, request.chunkSize ?? 64 * 1024);
    for (let offset = 0; offset < body.length; offset += size) {
      const chunk = body.subarray(offset, offset + size);
      parts.push(Buffer.from(`${chunk.length.toString(16)}\r\n`, 'latin1'), chunk, Buffer.from('\r\n', 'latin1'));
    }
    parts.push(Buffer.from('0\r\n\r\n', 'latin1'));
  } else {
    parts.push(body);
  }
  return Buffer.concat(parts);
}

/** Sends `request` on a fresh connection to 127.0.0.1:`port`, reads until the server closes it, and parses the answer. */
export function sendRaw(port: number, request: RawRequest | Buffer, timeoutMs = 20_000): Promise<RawResponse> {
  const bytes = Buffer.isBuffer(request) ? request : encodeRequest(request);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let settled = false;
    const socket = net.connect(port, '127.0.0.1');
    const finish = (error?: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      const received = Buffer.concat(chunks);
      // A server may answer early and close while the tail of a large body is still being written (EPIPE,
      // ECONNRESET): what it answered is what counts. No answer at all is a failure.
      if (received.length > 0) {
        try {
          resolve(parseResponse(received));
          return;
        } catch (parseError) {
          reject(parseError);
          return;
        }
      }
      reject(error ?? new Error('the server closed the connection without answering'));
    };
    const timer = setTimeout(() => finish(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('end', () => finish());
    socket.on('close', () => finish());
    socket.on('error', (error) => finish(error));
    // Write without half-closing: Node's HTTP server (httpAllowHalfOpen false) treats the client's FIN as an
    // abort and drops a request it is still working on asynchronously (a zlib inflate, say), never answering.
    // `Connection: close` makes the server close the connection once it has answered.
    socket.write(bytes);
  });
}

/** Parses a complete HTTP/1.1 response (the connection was closed by the server, so the body is the rest). */
export function parseResponse(received: Buffer): RawResponse {
  const raw = received.toString('latin1');
  const headEnd = raw.indexOf('\r\n\r\n');
  if (headEnd < 0) throw new Error(`incomplete HTTP response: ${JSON.stringify(raw.slice(0, 300))}`);
  const [statusLine, ...headerLines] = raw.slice(0, headEnd).split('\r\n');
  const match = /^HTTP\/1\.[01] (\d{3})(?: (.*))?$/.exec(statusLine);
  if (!match) throw new Error(`not an HTTP status line: ${JSON.stringify(statusLine)}`);
  const headers: Record<string, string[]> = {};
  for (const line of headerLines) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    (headers[name] ??= []).push(line.slice(colon + 1).trim());
  }
  let body = received.subarray(headEnd + 4);
  if ((headers['transfer-encoding'] ?? []).some((value) => /chunked/i.test(value))) body = dechunk(body);
  const length = headers['content-length']?.[0];
  if (length !== undefined && /^\d+$/.test(length)) body = body.subarray(0, Number(length));
  return {
    status: Number(match[1]),
    reason: match[2] ?? '',
    headers,
    body: body.toString('utf8'),
    raw: raw.slice(0, 2_000),
  };
}

function dechunk(data: Buffer): Buffer {
  const out: Buffer[] = [];
  let offset = 0;
  while (offset < data.length) {
    const lineEnd = data.indexOf('\r\n', offset, 'latin1');
    if (lineEnd < 0) break;
    const size = parseInt(data.subarray(offset, lineEnd).toString('latin1'), 16);
    if (!Number.isFinite(size) || size === 0) break;
    out.push(data.subarray(lineEnd + 2, lineEnd + 2 + size));
    offset = lineEnd + 2 + size + 2;
  }
  return Buffer.concat(out);
}

/** The body as JSON, or undefined when it is empty or not JSON. */
export function jsonBody(response: RawResponse): any {
  if (response.body.length === 0) return undefined;
  try {
    return JSON.parse(response.body);
  } catch {
    return undefined;
  }
}

/** A short description of a response for assertion messages. */
export function describeResponse(response: RawResponse): string {
  return `${response.status} ${response.reason} ${response.body.slice(0, 500)}`;
}
