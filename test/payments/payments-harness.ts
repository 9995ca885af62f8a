import { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import mysql from 'mysql2/promise';
import { Client } from 'pg';
import request from 'supertest';
import { AppModule } from '../../apps/payments/src/app.module';
import { loadAppConfig } from '../../apps/payments/src/config/app-config';
import { setupApp } from '../../apps/payments/src/setup-app';
import { TEST_SERVICES, TestService } from '../support/services';

/** Two merchants with known keys, so tests can check isolation. */
export const MERCHANTS = { m1: 'sk_test_merchant_one', m2: 'sk_test_merchant_two' } as const;
export const API_KEYS = Object.entries(MERCHANTS)
  .map(([merchant, secret]) => `${merchant}:${secret}`)
  .join(',');

const REPO_ROOT = resolve(__dirname, '../..');

/** A payments app serving on a loopback port. */
export interface PaymentsApp {
  url: string;
  close: () => Promise<void>;
  app?: INestApplication;
}

/** Starts the app in this process, configured exactly as `main.ts` would from `env`. */
export async function startPaymentsApp(env: Record<string, string>): Promise<PaymentsApp & { app: INestApplication }> {
  const config = loadAppConfig({ API_KEYS, ...env }, () => 'unused');
  const moduleRef = await Test.createTestingModule({ imports: [AppModule.forRoot(config)] }).compile();
  const app = moduleRef.createNestApplication({ logger: ['error'] });
  setupApp(app);
  await app.listen(0, '127.0.0.1');
  return { app, url: (await app.getUrl()).replace('[::1]', '127.0.0.1'), close: () => app.close() };
}

/** A payments app in its own Node process (as another node of a deployment), started from source. */
export interface PaymentsProcess extends PaymentsApp {
  child: ChildProcess;
  output: () => string;
}

/** Spawns `apps/payments/src/main.ts` with `env` on a free port; resolves once it listens. */
export function spawnPaymentsApp(env: Record<string, string>, timeoutMs = 60_000): Promise<PaymentsProcess> {
  return spawnTypeScriptApp('apps/payments/src/main.ts', { API_KEYS, PORT: '0', ...env }, timeoutMs);
}

/**
 * Runs a TypeScript entry point of this repository (through ts-node, with the `@app/*` aliases) in its own
 * Node process; resolves once it prints "Listening on <url> ".
 */
export async function spawnTypeScriptApp(
  entry: string,
  env: Record<string, string>,
  timeoutMs = 60_000,
): Promise<PaymentsProcess> {
  const child = spawn(
    process.execPath,
    ['-r', 'ts-node/register/transpile-only', '-r', 'tsconfig-paths/register', entry],
    {
      cwd: REPO_ROOT,
      env: { ...process.env, TS_NODE_PROJECT: 'tsconfig.json', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  const url = await new Promise<string>((resolveUrl, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${entry} did not start in ${timeoutMs} ms:\n${output}`));
    }, timeoutMs);
    const onData = () => {
      const match = /Listening on (http:\/\/\S+?) /.exec(output);
      if (match) {
        clearTimeout(timer);
        resolveUrl(match[1].replace('localhost', '127.0.0.1'));
      }
    };
    child.stdout!.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${entry} exited with ${code} before listening:\n${output}`));
    });
  });
  const close = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((done) => child.once('exit', done));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  };
  return { url, child, close, output: () => output };
}

/** A throwaway PostgreSQL database, dropped by `drop()`. */
export async function createPostgresDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `payments_e2e_${randomUUID().replace(/-/g, '').slice(0, 12)}`;
  const admin = new Client({ connectionString: TEST_SERVICES.postgres });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(TEST_SERVICES.postgres);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const client = new Client({ connectionString: TEST_SERVICES.postgres });
      await client.connect();
      await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await client.end();
    },
  };
}

/** A throwaway MariaDB/MySQL database, dropped by `drop()`. */
export async function createMariadbDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `payments_e2e_${randomUUID().replace(/-/g, '').slice(0, 12)}`;
  const run = async (sql: string) => {
    const connection = await mysql.createConnection({ uri: TEST_SERVICES.mariadb });
    await connection.query(sql).finally(() => connection.end());
  };
  await run(`CREATE DATABASE ${name}`);
  const url = new URL(TEST_SERVICES.mariadb);
  url.pathname = `/${name}`;
  return { url: url.toString(), drop: () => run(`DROP DATABASE IF EXISTS ${name}`) };
}

/** A throwaway SQLite file, removed by `remove()`. */
export function createSqliteFile(): { url: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'payments-e2e-'));
  return { url: `sqlite:${join(dir, 'payments.sqlite')}`, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A kind of database the sample apps run on, and how a suite makes a throwaway one of it (and drops it). */
export interface ThrowawayDatabaseKind {
  name: string;
  services: TestService[];
  create: () => Promise<{ url: string; drop: () => Promise<void> }>;
}

/** Each database the sample apps run on, as a throwaway for one suite. */
export const THROWAWAY_DATABASES: Record<'sqlite' | 'postgres' | 'mariadb', ThrowawayDatabaseKind> = {
  sqlite: {
    name: 'SQLite',
    services: [],
    create: async () => {
      const file = createSqliteFile();
      return { url: file.url, drop: async () => file.remove() };
    },
  },
  postgres: { name: 'PostgreSQL', services: ['postgres'], create: createPostgresDatabase },
  // Reached through a mysql:// URL, as the app's configuration writes it.
  mariadb: { name: 'MariaDB', services: ['mariadb'], create: createMariadbDatabase },
};

/** A small API client for one merchant. */
export function apiClient(url: string, merchant: keyof typeof MERCHANTS = 'm1') {
  const auth = { Authorization: `Bearer ${MERCHANTS[merchant]}` };
  return {
    post: (path: string, body: unknown, key?: string) => {
      const req = request(url).post(path).set(auth);
      return (key === undefined ? req : req.set('Idempotency-Key', key)).send(body as object);
    },
    get: (path: string) => request(url).get(path).set(auth),
    createCustomer: async (balance: number, name = 'Customer') => {
      const res = await request(url)
        .post('/customers')
        .set(auth)
        .set('Idempotency-Key', randomUUID())
        .send({ name, balance });
      if (res.status !== 201) throw new Error(`customer not created: ${res.status} ${JSON.stringify(res.body)}`);
      return res.body as { id: string; name: string; balance: number };
    },
  };
}
