import { parseRetryAfter } from './retry-after-header';

describe('parseRetryAfter', () => {
  const now = Date.parse('2026-12-07T06:00:00Z');

  it.each([
    ['0', 0],
    ['1', 1_000],
    ['120', 120_000],
    [' 3 ', 3_000],
  ])('reads seconds: %j is %i ms', (value, ms) => {
    expect(parseRetryAfter(value, now)).toBe(ms);
  });

  it('reads an HTTP date (IMF-fixdate) as the time until then', () => {
    expect(parseRetryAfter('Mon, 07 Dec 2026 06:00:05 GMT', now)).toBe(5_000);
  });

  it('reads the obsolete RFC 850 and asctime dates too', () => {
    expect(parseRetryAfter('Monday, 07-Dec-26 06:00:02 GMT', now)).toBe(2_000);
    // asctime has no zone (Date.parse reads it as local time), so only that it is read is asserted.
    expect(parseRetryAfter('Mon Dec  7 06:00:04 2026', now)).toEqual(expect.any(Number));
  });

  it('takes a date in the past as no wait', () => {
    expect(parseRetryAfter('Mon, 07 Dec 2026 05:00:00 GMT', now)).toBe(0);
  });

  it.each([undefined, '', '-1', '1.5', 'soon', '0x10', 'Mon, 99 Foo 2026 00:00:00 GMT'])(
    'leaves %j to the backoff',
    (value) => {
      expect(parseRetryAfter(value, now)).toBeUndefined();
    },
  );
});
