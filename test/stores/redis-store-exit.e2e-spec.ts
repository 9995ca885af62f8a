import { describeWithServices, TEST_SERVICES } from '../support/services';
import { freePorts } from '../support/redis-server';
import { killChildren, runNode, TS_NODE_PRELOAD } from '../support/child-run';

const JEST = require.resolve('jest/bin/jest');
const FIXTURES = 'test/stores/lifecycle';

/**
 * Issue 18, item 7: the Redis store must not keep a process alive. A stock Nest e2e spec on the Redis store (reachable
 * and unreachable, closed while connecting, after a request, while reconnecting) runs in a Jest of its own, which
 * must report no open handle and exit by itself; a store that is built but never started must not keep `node`
 * running. Elapsed times are bounded generously: a leak here is a 2 s timer or a socket that never closes.
 */
describeWithServices(['redis'], 'a process using the Redis store', () => {
  let env: Record<string, string>;

  beforeAll(async () => {
    const [unusedPort] = await freePorts(1);
    env = { REDIS_URL: TEST_SERVICES.redis, UNREACHABLE_URL: `redis://127.0.0.1:${unusedPort}` };
  });
  afterAll(killChildren);

  const runFixtureSpec = (flags: string[]) =>
    runNode([JEST, '--config', `${FIXTURES}/jest.config.js`, '--runInBand', ...flags], env, 60_000);

  it('lets a Jest run of an app on it report no open handle, and exit', async () => {
    const run = await runFixtureSpec(['--detectOpenHandles']);
    expect(run.output).toContain('Tests:       4 passed, 4 total');
    expect(run.output).not.toMatch(/open handle/i);
    expect(run).toMatchObject({ code: 0, timedOut: false });
    expect(run.elapsedMs).toBeLessThan(30_000);
  }, 90_000);

  it('lets a Jest run of an app on it exit within a second of the run, without being forced', async () => {
    const run = await runFixtureSpec([]);
    expect(run.output).toContain('Tests:       4 passed, 4 total');
    expect(run.output).not.toContain('did not exit');
    expect(run).toMatchObject({ code: 0, timedOut: false });
    expect(run.elapsedMs).toBeLessThan(30_000);
  }, 90_000);

  it('does not keep node running when it is built and never started', async () => {
    const run = await runNode([...TS_NODE_PRELOAD, `${FIXTURES}/never-started.fixture.ts`], env, 30_000);
    expect(run.output).toContain('built');
    expect(run).toMatchObject({ code: 0, timedOut: false });
    expect(run.elapsedMs).toBeLessThan(30_000);
  }, 60_000);
});
