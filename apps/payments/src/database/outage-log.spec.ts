import { Logger } from '@nestjs/common';
import { OutageLog } from './outage-log';

describe('OutageLog', () => {
  const lines: string[] = [];
  const logger = {
    warn: (message: string) => lines.push(`WARN ${message}`),
    log: (message: string) => lines.push(`LOG ${message}`),
  } as unknown as Logger;

  beforeEach(() => {
    lines.length = 0;
    vi.useFakeTimers();
  });
  afterEach(() => vi.useRealTimers());

  it('logs the first failure, one line per interval with the count of the others, and the recovery', () => {
    const log = new OutageLog(logger, 'payment requests', 10_000);
    log.failed('payment request a requeued: read ECONNRESET');
    for (let i = 0; i < 20; i++) log.failed('payment request b requeued');
    expect(lines).toEqual([
      'WARN payment request a requeued: read ECONNRESET (database unavailable; further failures of payment requests are counted)',
    ]);
    vi.advanceTimersByTime(10_000);
    log.failed('payment request c requeued');
    expect(lines[1]).toBe('WARN database still unavailable after 10 s: 21 more failed payment requests');
    vi.advanceTimersByTime(2_000);
    log.recovered();
    log.recovered();
    expect(lines.slice(2)).toEqual(['LOG database back after 12.0 s; 22 failed payment requests in all']);
    log.failed('payment request d requeued');
    expect(lines[3]).toMatch(/^WARN payment request d requeued/);
  });
});
