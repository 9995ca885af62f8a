import { Logger } from '@nestjs/common';
import type Redis from 'ioredis';
import type { Cluster } from 'ioredis';

/**
 * Checks `maxmemory-policy` on every connection of `client` when it becomes ready (each node of a Cluster),
 * and warns when the server may evict the store's keys. Every policy but `noeviction` can: the records all
 * carry a TTL, so the `volatile-*` policies take them too, and an evicted in-flight record lets a retry run
 * its request a second time. The check runs beside the store's traffic, never in front of it. A server that
 * refuses CONFIG (managed Redis often renames it) gets one informational line. Returns a function that stops
 * watching, for a client the store does not own.
 */
export function watchEvictionPolicy(client: Redis | Cluster): () => void {
  const logger = new Logger('RedisIdempotencyStore');
  // One line per server and finding: a reconnect to an unchanged server says nothing new.
  const reported = new Set<string>();
  const watched = new Map<Redis, () => void>();

  const watch = (node: Redis) => {
    if (watched.has(node)) return;
    const onReady = () => void checkPolicy(node, reported, logger);
    node.on('ready', onReady);
    watched.set(node, () => node.off('ready', onReady));
    if (node.status === 'ready') onReady();
  };
  const unwatch = (node: Redis) => {
    watched.get(node)?.();
    watched.delete(node);
  };

  if (!client.isCluster) {
    watch(client as Redis);
    return () => unwatch(client as Redis);
  }
  const cluster = client as Cluster;
  cluster.on('+node', watch);
  cluster.on('-node', unwatch);
  for (const node of cluster.nodes('all')) watch(node);
  return () => {
    cluster.off('+node', watch);
    cluster.off('-node', unwatch);
    for (const node of [...watched.keys()]) unwatch(node);
  };
}

async function checkPolicy(node: Redis, reported: Set<string>, logger: Logger): Promise<void> {
  const address = addressOf(node);
  let policy: string;
  try {
    const reply = (await node.config('GET', 'maxmemory-policy')) as unknown as string[];
    policy = reply[1];
  } catch (error) {
    // A dropped connection is checked again on the next 'ready'; only the server's own refusal is news.
    if ((error as Error).name !== 'ReplyError') return;
    const line = `Could not read maxmemory-policy of Redis at ${address} (${(error as Error).message}); make sure it is noeviction, or Redis may evict idempotency records`;
    if (once(reported, `${address} refused`)) logger.log(line);
    return;
  }
  if (policy === 'noeviction' || policy === undefined) return;
  if (once(reported, `${address} ${policy}`)) {
    logger.warn(
      `Redis at ${address} has maxmemory-policy ${policy}: once full it may evict idempotency records, in-flight ones ` +
        `included, and a retry would run its request again. Set maxmemory-policy to noeviction (a full Redis then ` +
        `refuses new records, which the library answers with 503).`,
    );
  }
}

function once(reported: Set<string>, finding: string): boolean {
  if (reported.has(finding)) return false;
  reported.add(finding);
  return true;
}

function addressOf(node: Redis): string {
  // The socket's peer is where a Sentinel-resolved connection really went; the options are the fallback.
  const stream = node.stream as { remoteAddress?: string; remotePort?: number } | undefined;
  if (stream?.remoteAddress) return `${stream.remoteAddress}:${stream.remotePort}`;
  return `${node.options.host}:${node.options.port}`;
}
