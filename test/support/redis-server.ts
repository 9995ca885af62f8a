import { ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer, Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/** Where a throwaway server listens. */
export interface RedisAddress {
  host: string;
  port: number;
}

// Every child this process started, so none outlives it even when a suite forgets (or crashes before) afterAll.
const children = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});

/** Ports nothing listens on right now, distinct from one another (the OS picks them). */
export async function freePorts(count: number): Promise<number[]> {
  const servers: Server[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const server = createServer();
      servers.push(server);
      await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
    }
    return servers.map((server) => (server.address() as { port: number }).port);
  } finally {
    await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  }
}

/**
 * One `redis-server` child process on 127.0.0.1, without persistence, in its own temporary directory.
 * It can be stopped, frozen (SIGSTOP: the socket stays open but nothing answers) and started again on
 * the same port.
 */
export class RedisServerProcess {
  readonly host = '127.0.0.1';
  private child: ChildProcess | undefined;
  private exited: Promise<void> | undefined;
  private output = '';
  private readonly dir = mkdtempSync(join(tmpdir(), 'idempotency-redis-'));

  constructor(
    readonly port: number,
    private readonly extraArgs: string[] = [],
  ) {}

  /** `redis://127.0.0.1:<port>` */
  get url(): string {
    return `redis://${this.host}:${this.port}`;
  }

  get address(): RedisAddress {
    return { host: this.host, port: this.port };
  }

  /** Starts the server and resolves once it answers PING (within `timeoutMs`). */
  async start(timeoutMs = 10_000): Promise<void> {
    if (this.child) throw new Error(`redis-server on port ${this.port} is already running`);
    this.output = '';
    const child = spawn(
      'redis-server',
      [
        '--port',
        String(this.port),
        '--bind',
        this.host,
        '--save',
        '',
        '--appendonly',
        'no',
        '--daemonize',
        'no',
        '--dir',
        this.dir,
        ...this.extraArgs,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.child = child;
    children.add(child);
    const collect = (chunk: Buffer) => {
      this.output = (this.output + chunk.toString()).slice(-4000);
    };
    child.stdout!.on('data', collect);
    child.stderr!.on('data', collect);
    this.exited = new Promise((resolve) => {
      child.once('exit', () => {
        children.delete(child);
        if (this.child === child) this.child = undefined;
        resolve();
      });
    });
    const deadline = Date.now() + timeoutMs;
    while (!(await ping(this.port))) {
      if (!this.child || Date.now() > deadline) {
        const why = this.child ? `no PONG within ${timeoutMs} ms` : 'it exited';
        await this.kill();
        throw new Error(`redis-server on port ${this.port} did not start (${why}). Output:\n${this.output}`);
      }
      await sleep(25);
    }
  }

  /** Sends `signal` and waits (bounded) for the process to exit; SIGKILL if it has not. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 5_000): Promise<void> {
    const child = this.child;
    if (!child) return;
    child.kill('SIGCONT'); // a frozen process cannot act on SIGTERM
    child.kill(signal);
    // Unreferenced timers, so a bounded wait that was not needed does not hold the test process open.
    const stopped = await Promise.race([this.exited!.then(() => true), sleep(timeoutMs, false, { ref: false })]);
    if (!stopped) {
      child.kill('SIGKILL');
      await Promise.race([this.exited!, sleep(timeoutMs, undefined, { ref: false })]);
    }
  }

  /** Kills the process outright, as a crash would. */
  kill(): Promise<void> {
    return this.stop('SIGKILL');
  }

  /** Freezes the process: connections stay open, nothing is answered. */
  freeze(): void {
    this.child?.kill('SIGSTOP');
  }

  /** Undoes `freeze()`. */
  thaw(): void {
    this.child?.kill('SIGCONT');
  }

  /** Stops the server and removes its directory. */
  async dispose(): Promise<void> {
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Starts a `redis-server` on a free port. */
export async function startRedisServer(extraArgs: string[] = []): Promise<RedisServerProcess> {
  const [port] = await freePorts(1);
  const server = new RedisServerProcess(port, extraArgs);
  try {
    await server.start();
  } catch (error) {
    await server.dispose();
    throw error;
  }
  return server;
}

/** A Redis Cluster of masters without replicas, each a child process. */
export interface RedisClusterProcesses {
  nodes: RedisServerProcess[];
  /** Stops every node and removes their directories. */
  dispose(): Promise<void>;
}

/**
 * Starts `masters` cluster-enabled servers on free ports (cluster bus ports chosen free as well), joins
 * them with `redis-cli --cluster create`, and resolves once every node reports `cluster_state:ok`.
 */
export async function startRedisCluster(masters = 3, timeoutMs = 30_000): Promise<RedisClusterProcesses> {
  const ports = await freePorts(masters * 2);
  const nodes = Array.from(
    { length: masters },
    (_, i) =>
      new RedisServerProcess(ports[i], [
        '--cluster-enabled',
        'yes',
        '--cluster-port',
        String(ports[masters + i]),
        '--cluster-config-file',
        `nodes-${ports[i]}.conf`,
        '--cluster-node-timeout',
        '5000',
      ]),
  );
  const dispose = async () => {
    await Promise.all(nodes.map((node) => node.dispose()));
  };
  try {
    await Promise.all(nodes.map((node) => node.start()));
    await run(
      'redis-cli',
      [
        '--cluster',
        'create',
        ...nodes.map((node) => `${node.host}:${node.port}`),
        '--cluster-replicas',
        '0',
        '--cluster-yes',
      ],
      timeoutMs,
    );
    const deadline = Date.now() + timeoutMs;
    for (const node of nodes) {
      while (!(await command(node.port, 'CLUSTER INFO')).includes('cluster_state:ok')) {
        if (Date.now() > deadline)
          throw new Error(`cluster node ${node.port} did not reach cluster_state:ok within ${timeoutMs} ms`);
        await sleep(50);
      }
    }
  } catch (error) {
    await dispose();
    throw error;
  }
  return { nodes, dispose };
}

/** Whether a Redis server answers PING on `port` within a second. */
async function ping(port: number): Promise<boolean> {
  try {
    return (await command(port, 'PING', 1_000)).startsWith('+PONG');
  } catch {
    return false;
  }
}

/** Sends one inline command over a fresh socket and returns the raw reply (one read is enough for these). */
function command(port: number, line: string, timeoutMs = 2_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.setTimeout(timeoutMs, () => socket.destroy(new Error(`no reply to ${line} within ${timeoutMs} ms`)));
    socket.once('connect', () => socket.write(`${line}\r\n`));
    socket.once('data', (data) => {
      socket.destroy();
      resolve(data.toString());
    });
    socket.once('error', reject);
    socket.once('close', () => reject(new Error(`connection closed before a reply to ${line}`)));
  });
}

function run(file: string, args: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { timeout: timeoutMs, killSignal: 'SIGKILL' }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${file} ${args.join(' ')} failed: ${error.message}\n${stdout}\n${stderr}`));
      else resolve(stdout);
    });
  });
}
