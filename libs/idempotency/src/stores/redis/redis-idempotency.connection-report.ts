import { Logger } from '@nestjs/common';
import type { Cluster, Redis } from 'ioredis';

/**
 * Listens to a connection the store created itself and reports its outage once and its recovery once.
 *
 * ioredis emits `error` on every failed reconnection attempt, and with no listener it prints
 * `[ioredis] Unhandled error event` each time: a Redis that is down for eight seconds filled the log with
 * nineteen stack traces, none saying what the outage means for requests. The store owns such a client, so it
 * listens. A client passed in is its owner's to listen to: the store adds nothing to it.
 *
 * Resolves a function that removes the listeners.
 */
export function reportOwnedConnection(
  client: Redis | Cluster,
  logger = new Logger('RedisIdempotencyStore'),
): () => void {
  let down = false;
  const onError = (error: Error) => {
    if (down) return;
    down = true;
    logger.warn(
      `Lost the connection to Redis (${error.message}); idempotent requests answer 503 until it is back. ` +
        `Reconnecting in the background; this is reported once.`,
    );
  };
  const onReady = () => {
    if (!down) return;
    down = false;
    logger.log('The connection to Redis is back; idempotent requests are served again');
  };
  client.on('error', onError);
  client.on('ready', onReady);
  return () => {
    client.off('error', onError);
    client.off('ready', onReady);
  };
}
