import Redis, { Cluster, ClusterNode, ClusterOptions, RedisOptions } from 'ioredis';
import { reportOwnedConnection } from './redis-idempotency.connection-report';
import { watchEvictionPolicy } from './redis-idempotency.eviction-policy';

/** Seed nodes of a Redis Cluster for the store to connect to (and later close) itself. */
export interface RedisIdempotencyClusterConnection {
  cluster: ClusterNode[];
  options?: ClusterOptions;
}

/**
 * Where `RedisIdempotencyStore` keeps its records: a client you own (`Redis`, `Cluster`, a Sentinel-backed
 * `Redis`), or ioredis options / a `redis://` URL / cluster seed nodes from which the store creates, and
 * later closes, its own.
 */
export type RedisIdempotencyConnection = Redis | Cluster | RedisOptions | string | RedisIdempotencyClusterConnection;

// QUIT lets replies already on their way arrive, but closing must stay quick: a server that does not answer it
// this fast (paused, frozen, far away) is simply disconnected.
const QUIT_BUDGET_MS = 50;

/**
 * The store's connection from construction to close. A client the store creates connects only when the store
 * starts (or on its first call), so constructing a store opens nothing; it always has an error listener, so
 * ioredis never prints an unhandled error, before, during or after close; and closing it takes milliseconds
 * whether or not Redis is reachable, and leaves no socket, reconnection or timer behind. A client passed in is
 * its owner's: the store neither connects nor closes it.
 */
export class RedisIdempotencyClient {
  readonly client: Redis | Cluster;
  readonly owned: boolean;
  private readonly stopWatchingEvictionPolicy: () => void;
  private readonly stopReporting: () => void;
  private ready: Promise<void> | undefined;
  private closing: Promise<void> | undefined;

  constructor(connection: RedisIdempotencyConnection) {
    this.owned = !isClient(connection);
    this.client = isClient(connection) ? connection : createClient(connection);
    if (this.owned) {
      // Stays after close: an error emitted while (or after) the socket goes must not reach the process.
      this.client.on('error', () => undefined);
    }
    // A client the store created has no other listener: without one, ioredis logs every failed reconnection.
    this.stopReporting = this.owned ? reportOwnedConnection(this.client) : () => undefined;
    // An evicting Redis can drop an in-flight record: warn when the store connects, never on a request.
    this.stopWatchingEvictionPolicy = watchEvictionPolicy(this.client);
  }

  /** Whether the store closed a client it created: it then answers no more calls. */
  get closed(): boolean {
    return this.owned && this.closing !== undefined;
  }

  /**
   * Connects a client the store created, in the background: an unreachable Redis makes calls fail with 503, not
   * start-up. Safe to call more than once.
   */
  start(): void {
    if (this.owned && !this.closed && this.client.status === 'wait') this.client.connect().catch(() => undefined);
  }

  /** One shared wait per disconnection, so an outage under load does not pile up listeners. */
  whenReady(): Promise<void> {
    if (!this.ready) {
      this.ready = new Promise((resolve) => {
        this.client.once('ready', () => {
          this.ready = undefined;
          resolve();
        });
      });
      // A store used without being started (outside Nest) connects on its first call; a lazyConnect client passed
      // in, too: the store sends nothing until it is ready, so nothing else would connect it.
      if (!this.closed && this.client.status === 'wait') this.client.connect().catch(() => undefined);
    }
    return this.ready;
  }

  /** Closes a client the store created; a client passed in is left to its owner. */
  close(): Promise<void> {
    this.closing ??= this.shutDown();
    return this.closing;
  }

  private async shutDown(): Promise<void> {
    this.stopWatchingEvictionPolicy();
    if (!this.owned) return;
    if (this.client.status === 'ready') {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        this.client.quit().catch(() => undefined),
        new Promise((resolve) => (timer = setTimeout(resolve, QUIT_BUDGET_MS))),
      ]);
      clearTimeout(timer);
    }
    // Stops any reconnection at once, and destroys the socket right after ending it (disconnectTimeout: 0).
    this.client.disconnect();
    this.stopReporting();
  }
}

function isClient(connection: RedisIdempotencyConnection): connection is Redis | Cluster {
  // Duck-typed rather than instanceof, so a client from another copy of ioredis is recognised too.
  return typeof connection === 'object' && typeof (connection as Redis).defineCommand === 'function';
}

/**
 * A client that never queues while disconnected: `enableOfflineQueue: false`, `maxRetriesPerRequest: 0` (commands
 * caught by a dropped connection fail at once), `autoResendUnfulfilledCommands: false` (none is re-sent after its
 * caller was answered); `lazyConnect`, so that it connects when the store starts; and `disconnectTimeout: 0`, because
 * ioredis otherwise ends a socket and keeps a 2 s timer (holding the process open) for a server's answer that, on a
 * socket still connecting or already failed, never comes.
 */
function createClient(connection: Exclude<RedisIdempotencyConnection, Redis | Cluster>): Redis | Cluster {
  const failFast: RedisOptions = {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
  };
  const lifecycle: RedisOptions = { lazyConnect: true, disconnectTimeout: 0 };
  if (typeof connection === 'string') return new Redis(connection, { ...failFast, ...lifecycle });
  if ('cluster' in connection) {
    const { options = {}, cluster } = connection;
    return new Cluster(cluster, {
      ...options,
      enableOfflineQueue: false,
      lazyConnect: true,
      redisOptions: { ...failFast, ...options.redisOptions, disconnectTimeout: 0 },
    });
  }
  return new Redis({ ...failFast, ...connection, ...lifecycle });
}
