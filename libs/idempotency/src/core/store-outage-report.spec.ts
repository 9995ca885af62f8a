import { StoreOutageReports } from './store-outage-report';

class FakeStore {}

/** A logger that keeps each line with its level. */
function recordingLogger() {
  const lines: string[] = [];
  return {
    lines,
    log: (message: string) => lines.push(`LOG ${message}`),
    warn: (message: string) => lines.push(`WARN ${message}`),
    error: (message: string) => lines.push(`ERROR ${message}`),
  };
}

describe('StoreOutageReports', () => {
  let logger: ReturnType<typeof recordingLogger>;
  let reports: StoreOutageReports;
  const store = new FakeStore();

  beforeEach(() => {
    vi.useFakeTimers();
    logger = recordingLogger();
    reports = new StoreOutageReports(logger, 10_000);
  });
  afterEach(() => {
    reports.stop();
    vi.useRealTimers();
  });

  it('logs an outage once when it starts, once per interval with counts per route, once when it ends', () => {
    for (let i = 0; i < 50; i++) reports.failed(store, 'POST /payments', 'refused', 'connect ECONNREFUSED');
    for (let i = 0; i < 3; i++) reports.failed(store, 'event payment.requested', 'refused', 'connect ECONNREFUSED');
    expect(logger.lines).toHaveLength(1);
    expect(logger.lines[0]).toMatch(/^ERROR The idempotency store \(FakeStore\) unavailable \(connect ECONNREFUSED\)/);

    vi.advanceTimersByTime(10_000);
    expect(logger.lines).toHaveLength(2);
    expect(logger.lines[1]).toMatch(/^ERROR .*still unavailable after 10 s/);
    expect(logger.lines[1]).toContain('POST /payments: 49 refused; event payment.requested: 3 refused');

    // An interval without failures adds nothing.
    vi.advanceTimersByTime(10_000);
    expect(logger.lines).toHaveLength(2);

    reports.failed(store, 'POST /payments', 'unprotected', 'timeout');
    reports.deferredSettled(store, 'POST /payments', 'release', 'gave_up', 'deferred release: gave_up');
    vi.advanceTimersByTime(10_000);
    expect(logger.lines[2]).toContain(
      'in the last 10 s: POST /payments: 1 ran UNPROTECTED (failOpen), 1 deferred release gave up',
    );

    reports.succeeded(store, performance.now());
    expect(logger.lines).toHaveLength(4);
    expect(logger.lines[3]).toMatch(/^LOG .*answers again after 30\.0 s; in all: POST \/payments: 50 refused/);
    // The timer stopped with the outage.
    vi.advanceTimersByTime(60_000);
    expect(logger.lines).toHaveLength(4);
  });

  it('is not ended by a call that started before it', () => {
    const before = performance.now();
    vi.advanceTimersByTime(5);
    reports.failed(store, 'run', 'refused', 'down');
    reports.succeeded(store, before);
    expect(logger.lines).toHaveLength(1);
    reports.succeeded(store, performance.now());
    expect(logger.lines[1]).toMatch(/^LOG .*answers again/);
  });

  it('starts a new outage after the store answered', () => {
    reports.failed(store, 'run', 'refused', 'down');
    reports.succeeded(store, performance.now());
    reports.succeeded(store, performance.now());
    reports.failed(store, 'run', 'refused', 'down again');
    expect(logger.lines.map((line) => line.split(' ')[0])).toEqual(['ERROR', 'LOG', 'ERROR']);
    expect(logger.lines[2]).toContain('down again');
  });

  it('keeps the outages of two stores apart', () => {
    const other = new (class OtherStore {})();
    reports.failed(store, 'run', 'refused', 'down');
    reports.failed(other, 'run', 'refused', 'down');
    reports.succeeded(other, performance.now());
    expect(logger.lines).toHaveLength(3);
    expect(logger.lines[2]).toMatch(/^LOG .*OtherStore/);
    reports.failed(store, 'run', 'refused', 'down');
    expect(logger.lines).toHaveLength(3);
  });

  it('gives a deferred settlement a line of its own outside an outage, and counts it during one', () => {
    reports.deferredSettled(store, 'run', 'release', 'gave_up', 'deferred release: gave_up after 16 attempt(s)');
    reports.deferredSettled(store, 'run', 'complete', 'not_owned', 'deferred complete: not_owned');
    reports.deferredSettled(store, 'run', 'release', 'not_owned', 'deferred release: not_owned');
    expect(logger.lines).toEqual([
      'WARN run: deferred release: gave_up after 16 attempt(s); the record stays in flight until its lease ends',
      'WARN run: deferred complete: not_owned; another request took the record over',
      'LOG run: deferred release: not_owned',
    ]);
    reports.failed(store, 'run', 'release_deferred', 'down');
    reports.deferredSettled(store, 'run', 'release', 'gave_up', 'deferred release: gave_up');
    expect(logger.lines).toHaveLength(4);
    reports.deferredSettled(store, 'run', 'complete', 'settled', 'deferred complete: settled');
    reports.succeeded(store, performance.now());
    expect(logger.lines[4]).toMatch(
      /^LOG .*answers again.*1 record released later, 1 deferred release gave up, 1 deferred complete settled/,
    );
  });

  it('reports an outage still going on at shutdown', () => {
    reports.failed(store, 'run', 'refused', 'down');
    reports.stop();
    expect(logger.lines[1]).toMatch(/^WARN .*still unavailable at shutdown.*run: 1 refused/);
  });
});
