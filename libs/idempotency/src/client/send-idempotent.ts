import { IDEMPOTENCY_DEFAULT_HEADER, IDEMPOTENCY_REPLAYED_HEADER } from '../options/idempotency.constants';
import { fullJitterBackoff } from './backoff';
import {
  IdempotentAttemptTimeoutError,
  IdempotentOutcomeUnknownReason,
  IdempotentRequestOutcomeUnknownError,
  IdempotentRequestRejectedError,
  IdempotentResponseSnapshot,
} from './client.errors';
import {
  IdempotentAttemptEvent,
  IdempotentClientOptions,
  IdempotentMethod,
  IdempotentRequest,
  IdempotentResponse,
  resolveRetryOptions,
} from './client.options';
import { checkIdempotencyKey } from './idempotency-key-for';
import { parseResponseBody, serialiseBody } from './request-body';
import { parseRetryAfter } from './retry-after-header';
import { decideOnStatus, isRetriedError } from './retry-policy';

/** One attempt as a front end sends it: the same method, URL, headers and bytes each time. */
export interface AttemptRequest {
  method: IdempotentMethod;
  url: string;
  headers: Record<string, string>;
  body: Uint8Array | undefined;
  /** Aborted on the attempt's timeout or the caller's abort; the front end must stop and reject. */
  signal: AbortSignal;
}

/** An answer as a front end read it, its body read in full under the attempt's signal. */
export interface AttemptResponse {
  status: number;
  /** Header names in lower case. */
  headers: Record<string, string>;
  text: string;
}

/** What a front end does: one attempt, rejecting on any error without an answer. */
export type SendAttempt = (request: AttemptRequest) => Promise<AttemptResponse>;

const METHODS: readonly IdempotentMethod[] = ['POST', 'PUT', 'PATCH', 'DELETE'];

/**
 * The policy both front ends share: one key and one serialised body for every attempt, retries as `retry-policy`
 * says, waits as `Retry-After` or the backoff says, within the attempts and the deadline; a definitive answer, or an
 * `IdempotentRequestOutcomeUnknownError` carrying the key.
 */
export async function sendIdempotent<T>(
  send: SendAttempt,
  client: IdempotentClientOptions,
  request: IdempotentRequest,
  random: () => number = Math.random,
): Promise<IdempotentResponse<T>> {
  const settings = resolveRetryOptions(client, request);
  const key = checkIdempotencyKey(request.key);
  const method = request.method ?? 'POST';
  if (!METHODS.includes(method)) throw new TypeError(`An idempotent request's method is one of ${METHODS.join(', ')}`);
  const url = new URL(request.url, client.baseUrl);
  const path = url.pathname;
  const body = serialiseBody(request.body);
  const headers = lowerCaseKeys({ ...client.headers, ...request.headers });
  if (body?.contentType && headers['content-type'] === undefined) headers['content-type'] = body.contentType;
  headers[(client.headerName ?? IDEMPOTENCY_DEFAULT_HEADER).toLowerCase()] = key;

  const { signal } = request;
  const deadlineAt = Date.now() + settings.deadlineMs;
  const report = (event: Omit<IdempotentAttemptEvent, 'key' | 'method' | 'url'>) => {
    try {
      client.onAttempt?.({ key, method, url: url.href, ...event });
    } catch {
      // A listener's fault is not the call's: the call goes on as if it had not been there.
    }
  };
  const unknown = (
    reason: IdempotentOutcomeUnknownReason,
    attempts: number,
    last: IdempotentResponseSnapshot | undefined,
    cause: unknown,
  ) => new IdempotentRequestOutcomeUnknownError(method, path, reason, key, attempts, last, cause);

  let lastResponse: IdempotentResponseSnapshot | undefined;
  let lastError: unknown;
  for (let attempt = 1; ; attempt++) {
    if (signal?.aborted) throw unknown('aborted', attempt - 1, lastResponse, signal.reason);
    const timeoutMs = Math.max(0, Math.min(settings.attemptTimeoutMs, deadlineAt - Date.now()));
    const outcome = await attemptOnce(send, { method, url: url.href, headers, body: body?.bytes }, timeoutMs, signal);
    let retryAfterMs: number | undefined;
    if ('error' in outcome) {
      lastResponse = undefined;
      lastError = outcome.error;
      if (signal?.aborted) {
        report({ attempt, error: outcome.error, decision: 'gave_up' });
        throw unknown('aborted', attempt, undefined, outcome.error);
      }
      if (!isRetriedError(outcome.error)) {
        report({ attempt, error: outcome.error, decision: 'gave_up' });
        throw unknown('not_retryable', attempt, undefined, outcome.error);
      }
    } else {
      const { status, headers: answerHeaders, text } = outcome.response;
      const snapshot: IdempotentResponseSnapshot = {
        status,
        headers: answerHeaders,
        body: parseResponseBody(text, answerHeaders['content-type']),
        replayed: answerHeaders[IDEMPOTENCY_REPLAYED_HEADER.toLowerCase()] === 'true',
      };
      const decision = decideOnStatus(status, answerHeaders['retry-after'] !== undefined);
      if (decision === 'done') {
        report({ attempt, status, decision });
        return { ...snapshot, body: snapshot.body as T, attempts: attempt, key };
      }
      if (decision === 'rejected') {
        report({ attempt, status, decision });
        throw new IdempotentRequestRejectedError(method, path, snapshot, key, attempt);
      }
      lastResponse = snapshot;
      lastError = undefined;
      retryAfterMs = parseRetryAfter(answerHeaders['retry-after']);
    }

    const failure = lastResponse ? { attempt, status: lastResponse.status } : { attempt, error: lastError };
    if (attempt >= settings.maxAttempts) {
      report({ ...failure, decision: 'gave_up' });
      throw unknown('attempts', attempt, lastResponse, lastError);
    }
    const delayMs = retryAfterMs ?? fullJitterBackoff(attempt, settings.baseDelayMs, settings.maxDelayMs, random);
    // A wait past the deadline would end in no attempt at all: say so now rather than after sleeping.
    if (Date.now() + delayMs >= deadlineAt) {
      report({ ...failure, decision: 'gave_up' });
      throw unknown('deadline', attempt, lastResponse, lastError);
    }
    report({ ...failure, decision: 'retry', delayMs });
    if (!(await sleep(delayMs, signal))) throw unknown('aborted', attempt, lastResponse, signal?.reason);
  }
}

type AttemptOutcome = { response: AttemptResponse } | { error: unknown };

/** One attempt under its own timeout and the caller's signal; never rejects. */
async function attemptOnce(
  send: SendAttempt,
  request: Omit<AttemptRequest, 'signal'>,
  timeoutMs: number,
  callerSignal: AbortSignal | undefined,
): Promise<AttemptOutcome> {
  const controller = new AbortController();
  const timeout = new IdempotentAttemptTimeoutError(timeoutMs);
  const timer = setTimeout(() => controller.abort(timeout), timeoutMs);
  const onAbort = () => controller.abort(callerSignal?.reason);
  callerSignal?.addEventListener('abort', onAbort, { once: true });
  try {
    return { response: await send({ ...request, signal: controller.signal }) };
  } catch (error) {
    // A front end rejects with its own abort error; the reason says which abort it was.
    return { error: controller.signal.reason === timeout ? timeout : error };
  } finally {
    clearTimeout(timer);
    callerSignal?.removeEventListener('abort', onAbort);
  }
}

/** Waits `ms`; false when the signal aborted the wait. */
function sleep(ms: number, signal: AbortSignal | undefined): Promise<boolean> {
  if (signal?.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const done = (completed: boolean) => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      resolve(completed);
    };
    const onAbort = () => done(false);
    const timer = setTimeout(() => done(true), ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

function lowerCaseKeys(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([name, value]) => [name.toLowerCase(), value]));
}
