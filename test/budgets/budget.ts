/** One engine's cost of one kind of request, in one unit: what a budget assertion names when it fails. */
export interface Cost {
  /** The engine, as a reader names it: 'Redis', 'PostgreSQL', 'MariaDB', 'SQLite'. */
  engine: string;
  /** The request, as a sentence's subject: 'a fresh key', 'a replay', 'an in-flight conflict (409)'. */
  request: string;
  /** What is counted, plural: 'round trips', 'statements', 'WAL flushes'. */
  unit: string;
}

/**
 * Fails unless `cost` is exactly `budget`, with a message that reads as what broke:
 * "Redis: a fresh key must cost 2 round trips, it cost 3".
 */
export function expectExactly(what: Cost, cost: number, budget: number, why = ''): void {
  if (cost !== budget)
    throw new Error(
      `${what.engine}: ${what.request} must cost ${counted(budget, what.unit)}, it cost ${cost}${why && ` (${why})`}`,
    );
}

/** Fails unless `cost` is within `[atLeast, below)`, as for figures (WAL flushes) the engine also makes in the background. */
export function expectWithin(what: Cost, cost: number, atLeast: number, below: number, why = ''): void {
  if (cost < atLeast || cost >= below) {
    throw new Error(
      `${what.engine}: ${what.request} must cost at least ${atLeast} and fewer than ${counted(below, what.unit)}, it cost ${cost}${why && ` (${why})`}`,
    );
  }
}

/**
 * A count another process on the same server can only add to (global WAL flushes, redo log fsyncs): measured up to
 * `rounds` times, the fewest is the closest to ours. Stops at the first round under `below`.
 */
export async function fewestOf(rounds: number, below: number, measure: () => Promise<number>): Promise<number> {
  let fewest = Infinity;
  for (let round = 0; round < rounds && fewest >= below; round++) fewest = Math.min(fewest, await measure());
  return fewest;
}

/** "2 round trips", "1 round trip", "1 WAL flush". */
function counted(count: number, unit: string): string {
  if (count !== 1) return `${count} ${unit}`;
  return `${count} ${unit.replace(/(sh)es$|s$/, '$1')}`;
}
