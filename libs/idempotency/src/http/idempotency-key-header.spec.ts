import { readIdempotencyKeyHeader } from './idempotency-key-header';

const withRawHeaders = (...rawHeaders: string[]) => ({ rawHeaders });

describe('readIdempotencyKeyHeader', () => {
  it('finds the header whatever the case of its name on the wire or in the options', () => {
    for (const sent of ['idempotency-key', 'Idempotency-Key', 'IDEMPOTENCY-KEY']) {
      for (const configured of ['Idempotency-Key', 'idempotency-key']) {
        expect(readIdempotencyKeyHeader(withRawHeaders('Host', 'x', sent, 'k1'), configured)).toEqual({
          status: 'valid',
          key: 'k1',
        });
      }
    }
  });

  it('reads each route its own header when two header names take turns', () => {
    const request = withRawHeaders('idempotency-key', 'a', 'X-Request-Key', 'b');
    for (let i = 0; i < 3; i++) {
      expect(readIdempotencyKeyHeader(request, 'Idempotency-Key')).toEqual({ status: 'valid', key: 'a' });
      expect(readIdempotencyKeyHeader(request, 'x-request-key')).toEqual({ status: 'valid', key: 'b' });
      expect(readIdempotencyKeyHeader(request, 'Other-Key')).toEqual({ status: 'missing' });
    }
  });

  it('refuses the header sent twice, in whatever cases', () => {
    expect(
      readIdempotencyKeyHeader(withRawHeaders('idempotency-key', 'a', 'Idempotency-Key', 'a'), 'Idempotency-Key'),
    ).toEqual({
      status: 'invalid',
      reason: 'the header was sent more than once',
    });
  });

  it("reads Fastify's raw request, and the parsed headers where there is no raw list", () => {
    expect(readIdempotencyKeyHeader({ raw: withRawHeaders('Idempotency-Key', 'f') }, 'idempotency-key')).toEqual({
      status: 'valid',
      key: 'f',
    });
    expect(readIdempotencyKeyHeader({ headers: { 'idempotency-key': 'h' } }, 'Idempotency-Key')).toEqual({
      status: 'valid',
      key: 'h',
    });
  });
});
