import { RETRY_TABLE } from '../../../../test/client/retry-table';
import { decideOnStatus, isRetriedError, RETRIED_STATUSES } from './retry-policy';

describe('the retry table', () => {
  it.each(RETRY_TABLE)('%i (Retry-After: %s) is %s', (status, retryAfter, decision) => {
    expect(decideOnStatus(status, retryAfter)).toBe(decision);
  });

  it('retries exactly 429, 500, 502, 503 and 504 whatever their headers say', () => {
    expect([...RETRIED_STATUSES].sort()).toEqual([429, 500, 502, 503, 504]);
  });
});

describe('errors without an answer', () => {
  const withCode = (code: string) => Object.assign(new Error(code), { code });

  it.each(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'UND_ERR_SOCKET'])(
    'retries %s: the answer may have been lost',
    (code) => {
      expect(isRetriedError(withCode(code))).toBe(true);
      expect(isRetriedError(new TypeError('fetch failed', { cause: withCode(code) }))).toBe(true);
    },
  );

  it('retries an error that says nothing of why', () => {
    expect(isRetriedError(new Error('socket hang up'))).toBe(true);
  });

  it.each(['CERT_HAS_EXPIRED', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'ERR_TLS_CERT_ALTNAME_INVALID', 'ERR_INVALID_URL'])(
    'does not retry %s, which no attempt mends, whether fetch nests it or not',
    (code) => {
      expect(isRetriedError(withCode(code))).toBe(false);
      expect(isRetriedError(new TypeError('fetch failed', { cause: withCode(code) }))).toBe(false);
    },
  );
});
