import { decideOnStatus, isRetriedError, RETRIED_STATUSES } from './retry-policy';

/** The retry table, as the README states it: status, whether it carries Retry-After, the decision. */
export const RETRY_TABLE: [status: number, retryAfter: boolean, decision: 'done' | 'retry' | 'rejected'][] = [
  [200, false, 'done'],
  [201, false, 'done'],
  [204, false, 'done'],
  [303, false, 'done'],
  [400, false, 'rejected'],
  [401, false, 'rejected'],
  [403, false, 'rejected'],
  [404, false, 'rejected'],
  [408, false, 'rejected'],
  [409, false, 'rejected'],
  [409, true, 'retry'],
  [410, false, 'rejected'],
  [413, false, 'rejected'],
  [415, false, 'rejected'],
  [422, false, 'rejected'],
  [422, true, 'rejected'],
  [429, false, 'retry'],
  [429, true, 'retry'],
  [500, false, 'retry'],
  [501, false, 'rejected'],
  [502, false, 'retry'],
  [503, true, 'retry'],
  [504, false, 'retry'],
  [505, false, 'rejected'],
];

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
