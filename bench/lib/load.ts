import autocannon from 'autocannon';

/** One request the load generator sends: built per request, so every request can carry a fresh key. */
export interface RequestShape {
  path: string;
  headers: Record<string, string>;
  body: string;
}

/** What one measurement saw, from the client's side. */
export interface LoadResult {
  /** 2xx responses per second over the measured interval. */
  rps: number;
  requests: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  durationS: number;
  /** Responses by HTTP status. */
  statusCodes: Record<string, number>;
}

/**
 * Runs autocannon's programmatic API against `url` for `durationS` seconds with `connections` keep-alive
 * connections (at most `overallRate` requests per second when given). `nextRequest` builds each request (autocannon's `setupRequest`), so generating keys costs every
 * variant the same on the client side.
 */
export async function runLoad(
  url: string,
  nextRequest: () => RequestShape,
  {
    connections,
    durationS,
    overallRate,
    amount,
  }: { connections: number; durationS: number; overallRate?: number; amount?: number },
): Promise<LoadResult> {
  const result = await autocannon({
    url,
    method: 'POST',
    connections,
    // `amount`: exactly that many requests, however long they take (durationS is then ignored).
    ...(amount ? { amount } : { duration: durationS }),
    pipelining: 1,
    timeout: 10,
    ...(overallRate ? { overallRate } : {}),
    headers: { 'content-type': 'application/json' },
    requests: [
      {
        setupRequest: (request: autocannon.Request) => {
          const shape = nextRequest();
          request.path = shape.path;
          Object.assign(request.headers ?? (request.headers = {}), shape.headers);
          request.body = shape.body;
          return request;
        },
      },
    ],
  });
  const ok = result['2xx'];
  return {
    rps: ok / result.duration,
    requests: result.requests.total,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    latencyP50Ms: result.latency.p50,
    latencyP99Ms: result.latency.p99,
    durationS: result.duration,
    statusCodes: Object.fromEntries(
      Object.entries(result.statusCodeStats ?? {}).map(([status, stats]) => [status, stats?.count ?? 0]),
    ),
  };
}
