import { createConnection, createServer, Server, Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Faults on one proxied connection, decided chunk by chunk: a client chunk is forwarded or the connection is
 * reset before it reaches the server; a server chunk (an answer) is forwarded, delayed, or the connection is
 * reset instead, so the server did the work and the client never hears of it.
 */
export interface ConnectionFaults {
  fromClient?(chunk: Buffer): 'forward' | 'reset';
  fromServer?(chunk: Buffer): 'forward' | 'reset' | { delayMs: number };
}

/**
 * A TCP proxy on a loopback port in front of one server (PostgreSQL, Redis, an HTTP app), for fault tests: it
 * can cut the link (every open connection reset, new ones refused) and restore it on the same port, it can stop
 * forwarding what clients send from a chosen chunk on (the server never sees it; the client waits), to freeze
 * a client at a precise point of its protocol, and `faults` can reset or delay single connections' traffic.
 */
export class TcpProxy {
  private server: Server | undefined;
  private readonly pairs = new Set<{ client: Socket; upstream: Socket }>();
  private holdWhen: ((chunk: Buffer) => boolean) | undefined;
  private holding = false;
  private readonly held: Buffer[] = [];
  private onHold: (() => void) | undefined;
  /** Connections accepted, links cut, client chunks forwarded, and connections reset by `faults`. */
  readonly stats = { accepted: 0, cuts: 0, forwarded: 0, faultResets: 0 };
  /** Made for each new connection, to inject faults into it; none: everything is forwarded. */
  faults: (() => ConnectionFaults) | undefined;
  private listenPort = 0;

  constructor(
    private readonly target: { host: string; port: number },
    /** Sees every client chunk before it is forwarded (or held). */
    private readonly tap?: (chunk: Buffer) => void,
  ) {}

  /** The port it listens on (0 before `start`). */
  get port(): number {
    return this.listenPort;
  }

  /** Listens on 127.0.0.1 (a spare port unless one is given). */
  async start(port = 0): Promise<void> {
    if (this.server) throw new Error('proxy already listening');
    const server = createServer((client) => this.accept(client));
    await new Promise<void>((resolve, reject) =>
      server.once('error', reject).listen(port || this.listenPort, '127.0.0.1', resolve),
    );
    this.server = server;
    this.listenPort = (server.address() as { port: number }).port;
  }

  /** Resets every open connection and refuses new ones until `restore()`. */
  async cut(): Promise<void> {
    this.stats.cuts++;
    const server = this.server;
    this.server = undefined;
    const closed = server ? new Promise((resolve) => server.close(resolve)) : Promise.resolve();
    this.destroyAll();
    await closed;
  }

  /** Listens again on the same port. */
  restore(): Promise<void> {
    return this.start(this.listenPort);
  }

  /** Resets every open connection, keeps listening: clients reconnect at once. */
  resetConnections(): number {
    const count = this.pairs.size;
    this.destroyAll();
    return count;
  }

  /**
   * From the first client chunk for which `when` is true, nothing clients send is forwarded any more (on any
   * connection): it is kept, and `heldText()` shows it. Resolves when that first chunk arrives.
   */
  holdFrom(when: (chunk: Buffer) => boolean): Promise<void> {
    this.holdWhen = when;
    return new Promise((resolve) => (this.onHold = resolve));
  }

  /** Whether it accepts connections (started and not cut). */
  get listening(): boolean {
    return this.server !== undefined;
  }

  /** Whether `holdFrom` has started holding. */
  get isHolding(): boolean {
    return this.holding;
  }

  /** Everything held so far, as text. */
  heldText(): string {
    return Buffer.concat(this.held).toString('latin1');
  }

  /** Stops listening and resets every connection. */
  async close(): Promise<void> {
    await this.cut();
  }

  private accept(client: Socket): void {
    this.stats.accepted++;
    const upstream = createConnection(this.target);
    const pair = { client, upstream };
    this.pairs.add(pair);
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    const end = () => {
      this.pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
    const faults = this.faults?.();
    const reset = () => {
      this.stats.faultResets++;
      this.pairs.delete(pair);
      client.resetAndDestroy();
      upstream.resetAndDestroy();
    };
    // Answers stay in order behind a delayed one.
    let answers = Promise.resolve();
    client.on('data', (chunk: Buffer) => {
      this.tap?.(chunk);
      if (faults?.fromClient?.(chunk) === 'reset') return reset();
      if (!this.holding && this.holdWhen?.(chunk)) {
        this.holding = true;
        this.onHold?.();
      }
      if (this.holding) {
        this.held.push(chunk);
        return;
      }
      this.stats.forwarded++;
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      if (!faults?.fromServer) return client.write(chunk);
      const verdict = faults.fromServer(chunk);
      if (verdict === 'reset') return reset();
      const delayMs = verdict === 'forward' ? 0 : verdict.delayMs;
      answers = answers.then(async () => {
        if (delayMs > 0) await sleep(delayMs);
        if (!client.destroyed) client.write(chunk);
      });
    });
  }

  private destroyAll(): void {
    for (const { client, upstream } of [...this.pairs]) {
      // resetAndDestroy sends an RST, as a dropped link or a dead host would, rather than a polite FIN.
      client.resetAndDestroy();
      upstream.resetAndDestroy();
    }
    this.pairs.clear();
  }
}
