import { randomUUID } from 'node:crypto';
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import request from 'supertest';
import { apiClient, createSqliteFile, PaymentsApp, startPaymentsApp } from './payments-harness';

/** Runs `main.ts` with `env` until it exits by itself; resolves its exit code and what it printed, colours removed. */
async function runUntilExit(env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  const child = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', '-r', 'tsconfig-paths/register', 'apps/payments/src/main.ts'], {
    cwd: resolve(__dirname, '../..'),
    env: { ...process.env, ...env, TS_NODE_PROJECT: 'tsconfig.json' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  const code = await new Promise<number | null>((done) => child.once('exit', done));
  // eslint-disable-next-line no-control-regex
  return { code, output: output.replace(/\x1b\[[0-9;]*m/g, '') };
}

describe('payments app start-up', () => {
  it('refuses to start with a bad variable, and says which', async () => {
    const { code, output } = await runUntilExit({ IDEMPOTENCY_STORE: 'mongo' });
    expect(code).toBe(1);
    expect(output).toContain('Invalid IDEMPOTENCY_STORE: "mongo" is not one of typeorm, redis, memory');
  }, 60_000);

  it('refuses a TTL shorter than the lock timeout in one line naming both variables, no stack trace', async () => {
    const { code, output } = await runUntilExit({ IDEMPOTENCY_TTL_SECONDS: '2', DATABASE_URL: 'sqlite::memory:' });
    expect(code).toBe(1);
    const lines = output.split('\n').filter((line) => line.trim() !== '');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /ERROR \[Payments\] Invalid IDEMPOTENCY_TTL_SECONDS: 2 is shorter than IDEMPOTENCY_LOCK_TIMEOUT_SECONDS \(30\); a record must live at least as long as its lease$/,
    );
  }, 60_000);

  describe('with IDEMPOTENCY_STORE=redis and no Redis answering', () => {
    const file = createSqliteFile();
    let app: PaymentsApp;
    beforeAll(async () => {
      // Port 1 on loopback: nothing listens there, so every connection attempt is refused at once.
      app = await startPaymentsApp({ DATABASE_URL: file.url, IDEMPOTENCY_STORE: 'redis', REDIS_URL: 'redis://127.0.0.1:1' });
    });
    afterAll(async () => {
      await app?.close();
      file.remove();
    });

    it('answers keyed writes with 503 at once, without running them unprotected', async () => {
      const started = Date.now();
      const res = await apiClient(app.url).post('/customers', { name: 'Ada', balance: 100 }, randomUUID());
      expect(res.status).toBe(503);
      expect(res.body).toMatchObject({ statusCode: 503, error: 'Service Unavailable' });
      expect(Date.now() - started).toBeLessThan(5_000);
    });

    it('reports itself unhealthy', async () => {
      const res = await request(app.url).get('/health');
      expect(res.status).toBe(503);
      expect(res.body.error).toHaveProperty('idempotencyStore');
    });
  });
});
