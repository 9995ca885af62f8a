import type { Cluster } from 'ioredis';
import type Redis from 'ioredis';
import {
  IdempotencyAcquireRequest,
  IdempotencyAcquireResult,
  IdempotencyForgetResult,
  IdempotencyRecordId,
  IdempotencyRecordSnapshot,
  IdempotencyStore,
} from '../idempotency-store';
import { CallDeadlines } from '../call-deadlines';
import { RedisIdempotencyClient, RedisIdempotencyConnection } from './redis-idempotency.connection';
import { IdempotencyStoreUnreachableError } from '../idempotency-store-unreachable.error';
import { decodeFingerprint, encodeFingerprint, escapeKeyPart } from './redis-idempotency.record-encoding';
import {
  ABSENT,
  ACQUIRE_SCRIPT,
  ACQUIRED,
  COMPLETE_SCRIPT,
  COMPLETED,
  FORGET_SCRIPT,
  FORGOTTEN,
  IN_FLIGHT,
  INSPECT_SCRIPT,
  LEFT_IN_FLIGHT,
  RELEASE_SCRIPT,
} from './redis-idempotency.scripts';
import { declareStoreKind } from '../store-kind';
import { rememberLast } from '../../util/remember-last';

export type { RedisIdempotencyClusterConnection, RedisIdempotencyConnection } from './redis-idempotency.connection';

/** Options of the Redis store. */
export interface RedisIdempotencyStoreOptions {
  /**
   * Longest time, in milliseconds, one store call may take, waiting for a lost connection included, before
   * it rejects (the library then answers 503); the rejection comes within a tenth of it after. Applies to clients
   * passed in as well. Default 1000.
   */
  commandTimeout?: number;
}

// Names are prefixed because defineCommand adds them as methods of a client the user may share.
const ACQUIRE = 'idempotencyAcquire';
const COMPLETE = 'idempotencyComplete';
const RELEASE = 'idempotencyRelease';
const INSPECT = 'idempotencyInspect';
const FORGET = 'idempotencyForget';

/** One call's progress: whether its caller stopped waiting, and whether its command was handed to the client. */
interface SendState {
  expired: boolean;
  sent: boolean;
}

// ioredis refuses to queue a command while disconnected (enableOfflineQueue: false) with these, before writing it.
const OFFLINE = /^(Stream isn't writeable|Cluster isn't ready) and enableOfflineQueue options is false/;

type ScriptCommand = (key: string, ...args: (string | Buffer | number)[]) => Promise<unknown>;

/**
 * The store for many app instances: records live in Redis, one compact string key per record, every state
 * change one Lua script and one round trip (a new key: acquire + complete; a replay: acquire). Calls made in the
 * same turn of the event loop leave in one socket write. Leases use the Redis server's clock; retention is the
 * key's own expiry. Works on standalone, Sentinel and Cluster:
 *
 * ```ts
 * new RedisIdempotencyStore('redis://127.0.0.1:6379');
 * new RedisIdempotencyStore({ sentinels: [{ host: 'sentinel-1', port: 26379 }], name: 'mymaster' });
 * new RedisIdempotencyStore({ cluster: [{ host: 'redis-1', port: 6379 }], options: { redisOptions: { password } } });
 * ```
 *
 * The store never lets ioredis queue its commands while disconnected: it waits for the connection itself,
 * at most `commandTimeout`, so a call it has already reported as failed (503) is never sent later. A client
 * it creates gets `enableOfflineQueue: false`, `maxRetriesPerRequest: 0` (commands caught by a dropped
 * connection fail at once) and `autoResendUnfulfilledCommands: false` (none is re-sent after its caller was
 * answered), and reconnects by itself. Give a client you pass in the last two as well (for a `Cluster`,
 * in `redisOptions`); whatever its settings, no store call outlives 1.1 × `commandTimeout`.
 *
 * A client the store creates connects when the store starts (`IdempotencyModule` starts it; used on its own, on
 * its first call), so a store that is never used opens nothing; `close()` takes milliseconds, reachable Redis
 * or not, and leaves nothing that keeps the process alive.
 */
export class RedisIdempotencyStore extends IdempotencyStore {
  /** The connection, for subclasses (a health check, say). */
  protected readonly client: Redis | Cluster;
  private readonly connection: RedisIdempotencyClient;
  private readonly commandTimeout: number;
  private readonly deadlines: CallDeadlines;
  private batch: Array<() => void> | undefined;
  /** A store serves one or two namespaces (`keyPrefix`): each is escaped once, not per call. */
  private readonly escapedNamespace = rememberLast(escapeKeyPart);

  constructor(connection: RedisIdempotencyConnection, options: RedisIdempotencyStoreOptions = {}) {
    super();
    this.commandTimeout = options.commandTimeout ?? 1000;
    if (!Number.isSafeInteger(this.commandTimeout) || this.commandTimeout <= 0) {
      throw new Error(
        `RedisIdempotencyStore: commandTimeout must be a positive whole number, got ${options.commandTimeout}`,
      );
    }
    this.deadlines = new CallDeadlines(this.commandTimeout);
    this.connection = new RedisIdempotencyClient(connection);
    this.client = this.connection.client;
    this.client.defineCommand(ACQUIRE, { numberOfKeys: 1, lua: ACQUIRE_SCRIPT });
    this.client.defineCommand(COMPLETE, { numberOfKeys: 1, lua: COMPLETE_SCRIPT });
    this.client.defineCommand(RELEASE, { numberOfKeys: 1, lua: RELEASE_SCRIPT });
    this.client.defineCommand(INSPECT, { numberOfKeys: 1, lua: INSPECT_SCRIPT });
    this.client.defineCommand(FORGET, { numberOfKeys: 1, lua: FORGET_SCRIPT });
  }

  async acquire(id: IdempotencyRecordId, request: IdempotencyAcquireRequest): Promise<IdempotencyAcquireResult> {
    const reply = (await this.call('acquire', ACQUIRE, [
      this.recordKey(id),
      encodeFingerprint(request.fingerprint),
      request.token,
      request.leaseMs,
      request.ttlMs,
    ])) as [number, number | Buffer, number | Buffer];
    switch (reply[0]) {
      case ACQUIRED:
        return { state: 'acquired', takenOver: reply[1] === 1 };
      case IN_FLIGHT:
        return {
          state: 'in_flight',
          fingerprint: decodeFingerprint(reply[1] as Buffer),
          retryAfterMs: reply[2] as number,
        };
      case COMPLETED:
        return {
          state: 'completed',
          fingerprint: decodeFingerprint(reply[1] as Buffer),
          response: (reply[2] as Buffer).toString('utf8'),
        };
      default:
        throw new Error(`RedisIdempotencyStore: unexpected reply to acquire: ${String(reply[0])}`);
    }
  }

  async complete(id: IdempotencyRecordId, token: string, response: string, ttlMs: number): Promise<boolean> {
    return (await this.call('complete', COMPLETE, [this.recordKey(id), token, response, ttlMs])) === 1;
  }

  async release(id: IdempotencyRecordId, token: string): Promise<boolean> {
    return (await this.call('release', RELEASE, [this.recordKey(id), token])) === 1;
  }

  async inspect(id: IdempotencyRecordId): Promise<IdempotencyRecordSnapshot | undefined> {
    const reply = (await this.call('inspect', INSPECT, [this.recordKey(id)])) as
      [number, Buffer, Buffer | number, number] | null;
    if (reply === null) return undefined;
    const [state, fingerprint, detail, expiresAt] = reply;
    if (state === COMPLETED) {
      return {
        state: 'completed',
        fingerprint: decodeFingerprint(fingerprint),
        response: detail.toString(),
        expiresAt,
      };
    }
    if (state === IN_FLIGHT) {
      return {
        state: 'in_flight',
        fingerprint: decodeFingerprint(fingerprint),
        leaseExpiresAt: detail as number,
        expiresAt,
      };
    }
    throw new Error(`RedisIdempotencyStore: unexpected reply to inspect: ${String(state)}`);
  }

  async forget(id: IdempotencyRecordId, options: { force: boolean }): Promise<IdempotencyForgetResult> {
    const reply = await this.call('forget', FORGET, [this.recordKey(id), options.force ? '1' : '0']);
    if (reply === FORGOTTEN) return 'forgotten';
    if (reply === ABSENT) return 'absent';
    if (reply === LEFT_IN_FLIGHT) return 'in_flight';
    throw new Error(`RedisIdempotencyStore: unexpected reply to forget: ${String(reply)}`);
  }

  /** Connects a client the store created (without waiting for Redis). `IdempotencyModule` calls it at start-up. */
  start(): void {
    this.connection.start();
  }

  /**
   * Closes the connection if the store created it (a client passed in is left to its owner); calls made after it
   * reject. `IdempotencyModule` calls it when the application shuts down, after its last settlements.
   */
  close(): Promise<void> {
    return this.connection.close();
  }

  /**
   * The Redis key of a record. Every part is escaped so that none can run into another, and scope and key
   * form the `{hash tag}`, so a record's keys share one Cluster slot while records spread over all slots.
   */
  protected recordKey(id: IdempotencyRecordId): string {
    return `${this.escapedNamespace(id.namespace)}:{${escapeKeyPart(id.scope)}:${escapeKeyPart(id.key)}}`;
  }

  /**
   * Sends one script once the connection is up, and rejects if the whole call takes longer than
   * `commandTimeout`. It waits for the connection itself rather than queueing, so a call that timed out is
   * never sent later.
   */
  private call(operation: string, name: string, args: [string, ...(string | Buffer | number)[]]): Promise<unknown> {
    if (this.connection.closed) {
      return Promise.reject(new IdempotencyStoreUnreachableError('RedisIdempotencyStore: the store is closed'));
    }
    const state: SendState = { expired: false, sent: false };
    const status = this.client.status;
    // 'end' (closed for good) is left to the client, which rejects at once.
    const work =
      status !== 'ready' && status !== 'end'
        ? this.connection.whenReady().then(() => (state.expired ? undefined : this.send(name, args, state)))
        : this.send(name, args, state);
    return this.deadlines.bound(
      work,
      () => {
        const message = `RedisIdempotencyStore: ${operation} got no answer from Redis within ${this.commandTimeout} ms (connection ${this.client.status})`;
        // Expired before it was written: it never will be, so it wrote nothing.
        return state.sent ? new Error(message) : new IdempotencyStoreUnreachableError(message);
      },
      () => (state.expired = true),
    );
  }

  /**
   * Sends a script, batched with the other calls made in the same turn of the event loop. Under load many requests
   * reach the store in one turn (each HTTP request, each Redis reply that lets a handler finish); their commands go
   * out as one socket write at the end of the turn instead of one write (one system call, one wake-up of Redis)
   * each. A call whose caller was answered meanwhile (its timeout fired) is dropped, never sent.
   */
  private send(name: string, args: [string, ...(string | Buffer | number)[]], state: SendState): Promise<unknown> {
    // defineCommand adds the methods at run time, so ioredis's types cannot know them. The Buffer variant
    // keeps the binary fingerprint and the response's bytes intact.
    const command = (this.client as unknown as Record<string, ScriptCommand>)[`${name}Buffer`];
    return new Promise((resolve, reject) => {
      if (!this.batch) {
        this.batch = [];
        setImmediate(() => this.flush());
      }
      this.batch.push(() => {
        if (state.expired) return;
        state.sent = true;
        try {
          command.apply(this.client, args).then(resolve, (error: unknown) => reject(offlineAsUnreachable(error)));
        } catch (error) {
          reject(error);
        }
      });
    });
  }

  private flush(): void {
    const batch = this.batch ?? [];
    this.batch = undefined;
    // A Cluster has one stream per node; its commands are simply sent one after the other.
    const stream = (this.client as Partial<Redis>).stream;
    stream?.cork();
    try {
      for (const start of batch) start();
    } finally {
      stream?.uncork();
    }
  }
}

/** ioredis's refusal to send while offline, marked as a call that never reached Redis; any other error as it is. */
function offlineAsUnreachable(error: unknown): unknown {
  return error instanceof Error && OFFLINE.test(error.message)
    ? IdempotencyStoreUnreachableError.because('RedisIdempotencyStore: not connected to Redis', error)
    : error;
}

declareStoreKind(RedisIdempotencyStore, 'redis');
