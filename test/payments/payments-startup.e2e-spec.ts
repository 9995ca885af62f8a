import { randomUUID } from 'node:crypto';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import request from 'supertest';
import { apiClient, createSqliteFile, PaymentsApp, startPaymentsApp } from './payments-harness';

/** Runs `main.ts` with `env` until it exits by itself; resolves its exit code and what it printed, colours removed. */
async function runUntilExit(env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  const child = spawn(
    process.execPath,
    ['-r', 'ts-node/register/transpile-only', '-r', 'tsconfig-paths/register', 'apps/payments/src/main.ts'],
    {
      cwd: resolve(__dirname, '../..'),
      env: { ...process.env, ...env, TS_NODE_PROJECT: 'tsconfig.json' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  const code = await new Promise<number | null>((done) => child.once('exit', done));
  // eslint-disable-next-line no-control-regex
  return { code, output: output.replace(/\x1b\[[0-9;]*m/g, '') };
}

const ROOT = resolve(__dirname, '../..');

/**
 * Runs `main.ts` in `cwd` (where it looks for `.env` and keeps `data/`) until it says where it listens, calls
 * `use` with that URL, then stops it; resolves what it printed.
 */
async function runUntilListening(
  cwd: string,
  env: Record<string, string>,
  use: (url: string) => Promise<void> = async () => undefined,
): Promise<string> {
  // Absolute paths: `-r` resolves from the working directory, which is not the repository here.
  const preload = ['ts-node/register/transpile-only', 'tsconfig-paths/register'].flatMap((name) => [
    '-r',
    require.resolve(name),
  ]);
  const child = spawn(process.execPath, [...preload, join(ROOT, 'apps/payments/src/main.ts')], {
    cwd,
    env: { ...process.env, PORT: '0', ...env, TS_NODE_PROJECT: join(ROOT, 'tsconfig.json') },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  try {
    const url = await new Promise<string>((done, fail) => {
      const timer = setTimeout(() => fail(new Error(`the app did not start within 60 s:\n${output}`)), 60_000);
      const collect = (chunk: Buffer) => {
        // eslint-disable-next-line no-control-regex
        output += chunk.toString().replace(/\x1b\[[0-9;]*m/g, '');
        const listening = /Listening on (http:\/\/\S+) /.exec(output);
        if (listening) {
          clearTimeout(timer);
          done(listening[1]);
        }
      };
      child.stdout.on('data', collect);
      child.stderr.on('data', collect);
      child.once('exit', (code) => fail(new Error(`the app exited (${code}) before listening:\n${output}`)));
    });
    await use(url);
    // The rest of the start-up lines (the demo key) follow the "Listening" one at once.
    await new Promise((done) => setTimeout(done, 200));
    return output;
  } finally {
    child.kill('SIGTERM');
    await new Promise((done) => (child.exitCode === null ? child.once('exit', done) : done(undefined)));
  }
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
      app = await startPaymentsApp({
        DATABASE_URL: file.url,
        IDEMPOTENCY_STORE: 'redis',
        REDIS_URL: 'redis://127.0.0.1:1',
      });
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

  describe('outside the repository, as `npm start` runs it', () => {
    let cwd: string;
    beforeEach(() => {
      cwd = mkdtempSync(join(tmpdir(), 'payments-start-'));
    });
    afterEach(() => rmSync(cwd, { recursive: true, force: true }));

    it('reads .env from its working directory; a variable set in the environment wins over the file', async () => {
      writeFileSync(
        join(cwd, '.env'),
        'DATABASE_URL=sqlite::memory:\nAPI_KEYS=acme:sk_from_dotenv_1\nIDEMPOTENCY_STORE=redis\n',
      );
      let status = 0;
      const output = await runUntilListening(cwd, { IDEMPOTENCY_STORE: 'memory' }, async (url) => {
        const created = await request(url)
          .post('/customers')
          .set('Authorization', 'Bearer sk_from_dotenv_1')
          .set('Idempotency-Key', 'k1')
          .send({ name: 'Ada', balance: 1 });
        status = created.status;
      });
      expect(output).toContain('Read .env');
      expect(output).toContain('idempotency store: memory');
      expect(status).toBe(201);
    }, 90_000);

    it('keeps the demo API key across restarts, in a file only its owner can read', async () => {
      const demoKey = (output: string) => /demo merchant "demo" has the API key (sk_demo_\S+)/.exec(output)?.[1];
      const env = { DATABASE_URL: `sqlite:${join(cwd, 'data', 'payments.sqlite')}`, API_KEYS: '' };
      const first = await runUntilListening(cwd, env);
      const second = await runUntilListening(cwd, env);
      expect(demoKey(first)).toMatch(/^sk_demo_[A-Za-z0-9_-]{24}$/);
      expect(demoKey(second)).toBe(demoKey(first));
      expect(statSync(join(cwd, 'data', 'demo-api-key')).mode & 0o777).toBe(0o600);
    }, 120_000);
  });
});
