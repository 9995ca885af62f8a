/*
 * An open-loop load at a fixed rate: request i is due at start + i / rate, sent then whatever the app has
 * answered, and its latency counts from when it was due (so a slow app cannot hide its queue: no coordinated
 * omission).
 *
 * autocannon's `overallRate` is not that: each connection sends as fast as the app answers until it has used its
 * quota for the second, then waits for the next second (lib/httpClient.js, `reqsMadeThisSecond`). At half the
 * saturating rate it saturates the app for half of every second and idles it for the other half, so a p99
 * measured under it is the queue of a saturated app again.
 */
import { Agent, request as httpRequest } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import type { LoadResult, RequestShape } from './load';
import { percentile } from './stats';

export interface OpenLoopOptions {
  /** Requests per second, evenly spaced. */
  rate: number;
  durationS: number;
  /** Connections the client may open; a request due when all are busy waits for one, and its latency shows it. */
  maxConnections: number;
  /** A request without an answer after this long counts as a timeout. */
  timeoutMs?: number;
}

/** Sends `rate` requests per second to `url` for `durationS` seconds, each due at its own instant. */
export async function runOpenLoop(
  url: string,
  nextRequest: () => RequestShape,
  { rate, durationS, maxConnections, timeoutMs = 10_000 }: OpenLoopOptions,
): Promise<LoadResult> {
  const target = new URL(url);
  const agent = new Agent({ keepAlive: true, maxSockets: maxConnections });
  const total = Math.round(rate * durationS);
  const latencies: number[] = [];
  const statusCodes: Record<string, number> = {};
  let errors = 0;
  let timeouts = 0;
  let ok = 0;
  const inFlight = new Set<Promise<void>>();

  const send = (due: number) => {
    const shape = nextRequest();
    const done = new Promise<void>((resolve) => {
      const req = httpRequest(
        {
          host: target.hostname,
          port: target.port,
          method: 'POST',
          path: shape.path,
          agent,
          headers: { 'content-type': 'application/json', ...shape.headers },
          timeout: timeoutMs,
        },
        (res) => {
          res.resume();
          res.once('end', () => {
            latencies.push(performance.now() - due);
            const status = res.statusCode ?? 0;
            statusCodes[status] = (statusCodes[status] ?? 0) + 1;
            if (status >= 200 && status < 300) ok++;
            resolve();
          });
        },
      );
      req.once('timeout', () => {
        timeouts++;
        req.destroy(new Error('timeout'));
      });
      req.once('error', () => {
        errors++;
        resolve();
      });
      req.end(shape.body);
    });
    inFlight.add(done);
    void done.then(() => inFlight.delete(done));
  };

  const start = performance.now();
  let sent = 0;
  // Each turn sends every request that has fallen due; a turn is at most about a millisecond apart, so a request
  // leaves at most that late, and its latency still counts from when it was due.
  while (sent < total) {
    const now = performance.now();
    const due = Math.min(total, Math.floor(((now - start) / 1000) * rate) + 1);
    for (; sent < due; sent++) send(start + (sent / rate) * 1000);
    const nextDue = start + (sent / rate) * 1000;
    const wait = nextDue - performance.now();
    if (wait > 1) await sleep(wait - 1);
    else await new Promise((resolve) => setImmediate(resolve));
  }
  const sendingMs = performance.now() - start;
  await Promise.all(inFlight);
  agent.destroy();
  latencies.sort((a, b) => a - b);
  return {
    rps: ok / (sendingMs / 1000),
    requests: sent,
    non2xx: sent - ok - errors,
    errors,
    timeouts,
    latencyP50Ms: percentile(latencies, 0.5),
    latencyP99Ms: percentile(latencies, 0.99),
    durationS: sendingMs / 1000,
    statusCodes,
  };
}
