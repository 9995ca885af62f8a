import type { Pool, PoolClient } from 'pg';

/**
 * Counts the statements a `pg` pool's clients send while a piece of work runs: each client is wrapped once, when the
 * pool first hands it out, so statements sent on any connection (BEGIN and COMMIT included) are counted at the
 * client, where a round trip starts. Create it before the pool hands out the connections to be counted.
 */
export function poolStatementCounter(pool: Pool): (work: () => Promise<unknown>) => Promise<number> {
  let counting = false;
  let statements = 0;
  const wrapped = new WeakSet<PoolClient>();
  pool.on('acquire', (client) => {
    if (wrapped.has(client)) return;
    wrapped.add(client);
    const query = client.query.bind(client) as (...args: unknown[]) => unknown;
    client.query = ((...args: unknown[]) => {
      if (counting) statements++;
      return query(...args);
    }) as PoolClient['query'];
  });
  return async (work) => {
    statements = 0;
    counting = true;
    try {
      await work();
    } finally {
      counting = false;
    }
    return statements;
  };
}
