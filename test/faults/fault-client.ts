import { randomUUID } from 'node:crypto';
import { IncomingHttpHeaders, request as httpRequest } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';

/** One HTTP answer. */
export interface HttpAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  body: any;
}

/**
 * POSTs JSON on a fresh connection (no keep-alive: a retry never lands on a socket the dead side closed) and
 * rejects on any transport failure or after `timeoutMs`.
 */
export function postJson(
  baseUrl: string,
  path: string,
  body: unknown,
  headers: Record<string, string>,
  timeoutMs: number,
): Promise<HttpAnswer> {
  const payload = Buffer.from(JSON.stringify(body));
  const url = new URL(path, baseUrl);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      url,
      {
        method: 'POST',
        agent: false,
        headers: { 'content-type': 'application/json', 'content-length': String(payload.length), ...headers },
        timeout: timeoutMs,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown = text;
          try {
            parsed = text ? JSON.parse(text) : undefined;
          } catch {
            // not JSON: keep the text
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: parsed });
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(payload);
  });
}

/** GETs a path; resolves the status, or 0 on a transport failure. */
export function getStatus(baseUrl: string, path: string, timeoutMs = 3_000): Promise<number> {
  return new Promise((resolve) => {
    const req = httpRequest(new URL(path, baseUrl), { method: 'GET', agent: false, timeout: timeoutMs }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', () => resolve(0));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve(0));
    req.end();
  });
}

/** One try of a keyed write. */
export interface Attempt {
  instance: number;
  sentAt: number;
  answeredAt: number;
  /** HTTP status, or 0 when no answer came back (connection reset, refused, timeout). */
  status: number;
  error?: string;
  /** The 409 was the idempotency layer's "still in flight", not the business's "reference used". */
  inFlight?: boolean;
  replayed?: boolean;
  /** A 503 whose message says the request was not processed (the idempotency layer refused to run it). */
  notProcessed?: boolean;
  /** The Retry-After header, if any. */
  retryAfter?: string;
}

/**
 * How a keyed write ended for the client:
 * - `succeeded`: 201, with the created resource;
 * - `declined`: 402 (balance too low);
 * - `reference_conflict`: a business 409 — "a payment with reference … already exists", "a refund was already
 *   made with this idempotency key" — so an earlier run of this very request (same key, same body) was committed
 *   although the client never saw it succeed;
 * - `refused`: any other definite 4xx (400, 404, 422 ...);
 * - `gave_up`: the bound on attempts or time ran out with only retryable answers.
 */
export type FinalKind = 'succeeded' | 'declined' | 'reference_conflict' | 'refused' | 'gave_up';

export interface Operation {
  key: string;
  path: string;
  body: Record<string, unknown>;
  attempts: Attempt[];
  final: FinalKind;
  /** The last answer's body (the resource for `succeeded`). */
  answer?: any;
  /** The definite answer was a replay (`Idempotent-Replayed: true`). */
  replayed?: boolean;
  /** Index of the instance that gave the definite answer. */
  answeredBy?: number;
}

/**
 * Whether an attempt may have run the handler without the client learning its outcome: no HTTP answer at all,
 * or a 5xx other than the library's "not processed" 503 (sent only when it refused to run the handler). The
 * app's 503 for a database outage is ambiguous: a connection lost while COMMIT was on its way may have committed.
 */
export function isAmbiguous(attempt: Attempt): boolean {
  return attempt.status === 0 || (attempt.status >= 500 && !(attempt.status === 503 && attempt.notProcessed));
}

/** Counts over every attempt a client made. */
export class Tally {
  requests = 0;
  retries = 0;
  transportErrors = 0;
  readonly byStatus = new Map<number, number>();
  inFlightConflicts = 0;
  replays = 0;
  /** 503s that did not say when to retry. */
  unavailableWithoutRetryAfter = 0;

  record(attempt: Attempt, isRetry: boolean): void {
    this.requests++;
    if (isRetry) this.retries++;
    if (attempt.status === 0) this.transportErrors++;
    else this.byStatus.set(attempt.status, (this.byStatus.get(attempt.status) ?? 0) + 1);
    if (attempt.inFlight) this.inFlightConflicts++;
    if (attempt.replayed) this.replays++;
    if (attempt.status === 503 && !/^[1-9]\d*$/.test(attempt.retryAfter ?? '')) this.unavailableWithoutRetryAfter++;
  }

  count(status: number): number {
    return this.byStatus.get(status) ?? 0;
  }

  toString(): string {
    const statuses = [...this.byStatus.entries()]
      .sort(([a], [b]) => a - b)
      .map(([status, count]) => `${status}×${count}`)
      .join(' ');
    return `requests ${this.requests} (retries ${this.retries}): ${statuses}; no answer ×${this.transportErrors}; 409 in flight ×${this.inFlightConflicts}; replayed ×${this.replays}; 503 without Retry-After ×${this.unavailableWithoutRetryAfter}`;
  }
}

export interface RetryPolicy {
  /** Most attempts per operation. */
  maxAttempts: number;
  /** Longest time per operation, all attempts included. */
  deadlineMs: number;
  /** Per attempt. */
  requestTimeoutMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = { maxAttempts: 120, deadlineMs: 45_000, requestTimeoutMs: 15_000 };

/**
 * A client of the payments API that retries a keyed write with the SAME key and body until it gets a definite
 * answer (201, 402, 409 "reference used", another 4xx) or a bound runs out, spreading attempts over the
 * instances it is given (attempt i goes to instance (start + i) mod n).
 */
export class RetryingClient {
  readonly tally = new Tally();
  /** Every attempt of every operation, in the order they were answered. */
  readonly log: Attempt[] = [];

  constructor(
    private readonly apiKey: string,
    private readonly policy: RetryPolicy = DEFAULT_RETRY_POLICY,
  ) {}

  async send(
    urls: string[],
    path: string,
    body: Record<string, unknown>,
    options: { key?: string; start?: number } = {},
  ): Promise<Operation> {
    const key = options.key ?? randomUUID();
    const start = options.start ?? 0;
    const operation: Operation = { key, path, body, attempts: [], final: 'gave_up' };
    const deadline = Date.now() + this.policy.deadlineMs;
    for (let i = 0; i < this.policy.maxAttempts && Date.now() < deadline; i++) {
      const instance = (start + i) % urls.length;
      const attempt: Attempt = { instance, sentAt: Date.now(), answeredAt: 0, status: 0 };
      let answer: HttpAnswer | undefined;
      try {
        answer = await postJson(
          urls[instance],
          path,
          body,
          { authorization: `Bearer ${this.apiKey}`, 'idempotency-key': key },
          this.policy.requestTimeoutMs,
        );
        attempt.status = answer.status;
        attempt.replayed = answer.headers['idempotent-replayed'] === 'true';
        attempt.inFlight = answer.status === 409 && /already being processed/.test(String(answer.body?.message));
        attempt.retryAfter = answer.headers['retry-after'] as string | undefined;
        attempt.notProcessed = answer.status === 503 && /not processed/.test(String(answer.body?.message));
      } catch (error) {
        attempt.error =
          error instanceof Error
            ? `${(error as NodeJS.ErrnoException).code ?? ''} ${error.message}`.trim()
            : String(error);
      }
      attempt.answeredAt = Date.now();
      operation.attempts.push(attempt);
      this.log.push(attempt);
      this.tally.record(attempt, i > 0);
      const final = answer && definite(answer, attempt);
      if (final) {
        operation.final = final;
        operation.answer = answer!.body;
        operation.replayed = attempt.replayed;
        operation.answeredBy = instance;
        return operation;
      }
      operation.answer = answer?.body ?? attempt.error;
      await sleep(backoff(i, answer));
    }
    return operation;
  }
}

function definite(answer: HttpAnswer, attempt: Attempt): FinalKind | undefined {
  if (answer.status === 201) return 'succeeded';
  if (answer.status === 402) return 'declined';
  if (answer.status === 409) return attempt.inFlight ? undefined : 'reference_conflict';
  if (answer.status >= 400 && answer.status < 500) return 'refused';
  return undefined; // 5xx (and anything odd): retry with the same key
}

function backoff(attempt: number, answer: HttpAnswer | undefined): number {
  const retryAfter = Number(answer?.headers['retry-after']);
  if (answer?.status === 409 && Number.isFinite(retryAfter) && retryAfter > 0)
    return Math.min(retryAfter * 1000, 2_000) * (0.5 + Math.random() / 2);
  return 100 + 50 * Math.min(attempt, 8) + Math.random() * 100;
}
