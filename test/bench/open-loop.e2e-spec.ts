import { createServer, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { runOpenLoop } from '../../bench/lib/open-loop';

/*
 * The bench's open-loop load (bench/lib/open-loop.ts) against a real HTTP server that answers each request 300 ms
 * after it arrives: an open loop keeps sending at its rate while nothing has been answered, evenly spaced, and
 * counts each latency from when the request was due. A closed loop (or autocannon's overallRate, which sends a
 * second's quota as fast as the app answers) would send a burst at once and then wait for answers.
 */
describe('bench: the open-loop load', () => {
  const ANSWER_AFTER_MS = 300;
  let server: Server;
  let url: string;
  const arrivals: number[] = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      arrivals.push(performance.now());
      req.resume();
      req.once('end', () => setTimeout(() => res.writeHead(201).end('{}'), ANSWER_AFTER_MS));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  it('sends at its rate whatever the server has answered, evenly spaced, with latency counted from each due time', async () => {
    const rate = 100;
    let n = 0;
    const started = performance.now();
    const result = await runOpenLoop(
      url,
      () => ({ path: '/orders', headers: { 'idempotency-key': `k${++n}` }, body: '{}' }),
      { rate, durationS: 1, maxConnections: 200 },
    );

    expect(result.requests).toBe(rate);
    expect(result.statusCodes).toEqual({ 201: rate });
    // Before the first answer could come back, about 30 requests had left: none waited for an answer.
    const beforeFirstAnswer = arrivals.filter((at) => at - started < ANSWER_AFTER_MS).length;
    expect(beforeFirstAnswer).toBeGreaterThanOrEqual(20);
    expect(beforeFirstAnswer).toBeLessThanOrEqual(40);
    // No burst: 10 ms apart on average, so no 30 ms holds more than a handful (a closed loop of 50 sends 50 at once).
    const mostIn30Ms = Math.max(
      ...arrivals.map((at) => arrivals.filter((other) => other >= at && other < at + 30).length),
    );
    expect(mostIn30Ms).toBeLessThanOrEqual(8);
    // Every request waited its 300 ms from when it was due.
    expect(result.latencyP50Ms).toBeGreaterThanOrEqual(ANSWER_AFTER_MS);
    expect(result.latencyP99Ms).toBeLessThan(ANSWER_AFTER_MS + 500);
  });
});
