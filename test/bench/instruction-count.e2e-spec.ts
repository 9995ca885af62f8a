import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { callgrindArgs, countInstructions } from '../../bench/lib/instruction-count';
import { splitDump } from '../../bench/lib/instruction-phase';
import { recordSkippedSuite } from '../support/skipped-suites';

// Outside CI a machine without valgrind skips this suite, saying so; in CI (which installs it) it runs and fails loudly.
const VALGRIND_AVAILABLE = spawnSync('valgrind', ['--version']).status === 0;
const describeWithValgrind = VALGRIND_AVAILABLE || process.env.CI === 'true' ? describe : describe.skip;
if (describeWithValgrind === describe.skip)
  recordSkippedSuite('the instruction counts of the bench', 'valgrind not installed');

/*
 * The bench's CPU targets read instructions counted by callgrind (bench/lib/instruction-count.ts). Here a real
 * Node HTTP server runs under valgrind, as the bench's apps do: counting is off through start-up and warm-up, a
 * window counts only what its requests cost, the same requests count the same twice over, and a route that does
 * a known loop more counts that much more. Needs valgrind (.ci/run installs Debian's package).
 */
describeWithValgrind('bench: instructions counted under callgrind', () => {
  const dir = mkdtempSync(join(tmpdir(), 'instruction-count-spec-'));
  const outFile = join(dir, 'server.callgrind');
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  let server: ChildProcess | undefined;
  let port = 0;

  beforeAll(async () => {
    if (!VALGRIND_AVAILABLE)
      throw new Error('valgrind is not installed: apt-get install valgrind (the bench counts CPU in instructions)');
    server = spawn(
      'valgrind',
      [...callgrindArgs(outFile), process.execPath, join(__dirname, 'fixtures/counted-server.js')],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    port = await new Promise<number>((resolve, reject) => {
      let output = '';
      server!.stdout!.on('data', (chunk) => {
        output += String(chunk);
        const match = /listening (\d+)/.exec(output);
        if (match) resolve(Number(match[1]));
      });
      server!.once('exit', (code) => reject(new Error(`the server under valgrind exited (${code}): ${output}`)));
    });
    // Past V8's tiering of the request path, as the bench's warm-up is.
    await send('/light', 1500);
    await send('/heavy', 300);
  }, 180_000);

  afterAll(async () => {
    agent.destroy();
    if (server && server.exitCode === null) {
      const exited = new Promise((resolve) => server!.once('exit', resolve));
      server.kill('SIGTERM');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  /** Sends `count` requests to `path`, one at a time. */
  async function send(path: string, count: number): Promise<void> {
    for (let i = 0; i < count; i++) {
      await new Promise<void>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port, path, method: 'POST', agent }, (res) => {
          res.resume();
          res.once('end', resolve);
        });
        req.once('error', reject);
        req.end('{}');
      });
    }
  }

  /** Instructions per request of `count` requests to `path`, JIT compilation left out as the bench leaves it out. */
  const perRequest = async (path: string, count: number) => {
    const { total, dump } = await countInstructions(server!.pid!, outFile, () => send(path, count));
    return (total - (await splitDump(dump)).compile) / count;
  };

  it('counts a window of requests the same twice, and a route with more work that much more', async () => {
    const light = await perRequest('/light', 300);
    const lightAgain = await perRequest('/light', 300);
    const heavy = await perRequest('/heavy', 300);
    console.log(
      `instructions per request: /light ${light.toFixed(0)} then ${lightAgain.toFixed(0)}, /heavy ${heavy.toFixed(0)}`,
    );

    // A request to Node's HTTP server costs tens of thousands of instructions; the counts are that, not zero.
    expect(light).toBeGreaterThan(20_000);
    expect(Math.abs(lightAgain - light) / light).toBeLessThan(0.1);
    // The loop runs 50,000 rounds of a multiply, an add and a modulo: more than 150,000 instructions a request.
    expect(heavy - light).toBeGreaterThan(150_000);
  }, 180_000);
});
