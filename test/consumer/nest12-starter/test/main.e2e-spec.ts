import { ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { unique } from './idempotent-orders.js';

/**
 * The built app as it runs in production (`npm run start:prod`: `node dist/main`), with no Vite between it and Node:
 * Node's own ES module loader resolves `@nest-idempotency/core` (CommonJS) and NestJS 12 (ES modules only).
 */
describe('The built app, started with node dist/main (e2e)', () => {
  const main = new URL('../dist/main.js', import.meta.url);
  let server: ChildProcess | undefined;
  let output = '';

  afterAll(() => {
    server?.kill();
  });

  it('starts and answers a duplicate POST /orders with the replay', async () => {
    expect(existsSync(main), 'dist/main.js is missing: run `npm run build` first').toBe(true);
    const port = await freePort();
    server = spawn(process.execPath, ['dist/main'], {
      cwd: new URL('..', import.meta.url),
      env: { ...process.env, PORT: String(port) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    server.stdout?.on('data', (chunk) => (output += chunk));
    server.stderr?.on('data', (chunk) => (output += chunk));
    const exited = new Promise<number | null>((resolve) => server!.once('exit', resolve));

    const url = `http://127.0.0.1:${port}/orders`;
    const post = () =>
      fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'idempotency-key': key },
        body: JSON.stringify({ item: 'book' }),
      });
    const key = unique('main');
    const first = await Promise.race([exited, untilListening(post)]);
    if (!(first instanceof Response)) throw new Error(`node dist/main exited (${first}):\n${output}`);
    expect(first.status).toBe(201);
    const again = await post();
    expect(again.status).toBe(201);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(await again.json()).toEqual(await first.json());
  });
});

async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as { port: number };
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

/** Repeats `call` until the server accepts the connection (it is still starting up before). */
async function untilListening(call: () => Promise<Response>): Promise<Response> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (error) {
      if (attempt >= 100) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}
