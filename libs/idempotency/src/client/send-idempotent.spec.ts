import { IdempotentRequestOutcomeUnknownError, IdempotentRequestRejectedError } from './client.errors';
import { IdempotentAttemptEvent } from './client.options';
import { idempotentClient } from './idempotent-client';
import { AttemptRequest, AttemptResponse, sendIdempotent } from './send-idempotent';

/** A front end that answers from a script, one entry per attempt, and records what each attempt sent. */
function scripted(...answers: (Partial<AttemptResponse> | Error)[]) {
  const sent: AttemptRequest[] = [];
  const send = async (request: AttemptRequest): Promise<AttemptResponse> => {
    sent.push(request);
    const answer = answers[Math.min(sent.length, answers.length) - 1];
    if (answer instanceof Error) throw answer;
    return { status: 200, headers: {}, text: '', ...answer };
  };
  return { send, sent };
}

const request = { url: 'http://127.0.0.1:1/payments', key: 'payment:1', body: { amount: 5 }, baseDelayMs: 1 };

describe('sendIdempotent', () => {
  it('sends one key and the same bytes on every attempt, and says how many it took', async () => {
    const { send, sent } = scripted({ status: 503 }, new Error('socket hang up'), {
      status: 201,
      headers: { 'content-type': 'application/json', 'idempotent-replayed': 'true' },
      text: '{"id":"pay_1"}',
    });
    const result = await sendIdempotent(send, {}, request);
    expect(result).toMatchObject({ status: 201, replayed: true, attempts: 3, key: 'payment:1', body: { id: 'pay_1' } });
    expect(sent.map((attempt) => attempt.headers['idempotency-key'])).toEqual(['payment:1', 'payment:1', 'payment:1']);
    expect(new Set(sent.map((attempt) => attempt.body))).toEqual(new Set([sent[0].body]));
    expect(Buffer.from(sent[0].body!).toString()).toBe('{"amount":5}');
    expect(sent[0].headers['content-type']).toBe('application/json');
  });

  it('reports every attempt, with the wait before the next, and ignores a listener that throws', async () => {
    const events: IdempotentAttemptEvent[] = [];
    const { send } = scripted({ status: 429, headers: { 'retry-after': '0' } }, { status: 200 });
    await sendIdempotent(
      send,
      {
        onAttempt: (event) => {
          events.push(event);
          throw new Error('listener bug');
        },
      },
      request,
    );
    expect(events).toEqual([
      expect.objectContaining({ attempt: 1, status: 429, decision: 'retry', delayMs: 0, key: 'payment:1' }),
      expect.objectContaining({ attempt: 2, status: 200, decision: 'done' }),
    ]);
  });

  it('gives a definitive refusal at once, with the answer', async () => {
    const { send, sent } = scripted({ status: 422, text: 'no' });
    const error = await sendIdempotent(send, {}, request).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(IdempotentRequestRejectedError);
    expect(error).toMatchObject({ status: 422, attempts: 1, key: 'payment:1', response: { body: 'no' } });
    expect(sent).toHaveLength(1);
  });

  it('ends at maxAttempts with an unknown outcome carrying the key and the last answer', async () => {
    const { send, sent } = scripted({ status: 500 });
    const error = await sendIdempotent(send, {}, { ...request, maxAttempts: 3 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(IdempotentRequestOutcomeUnknownError);
    expect(error).toMatchObject({ reason: 'attempts', attempts: 3, key: 'payment:1', lastResponse: { status: 500 } });
    expect((error as Error).message).toContain('unknown');
    expect((error as Error).message).not.toMatch(/fail/i);
    expect((error as Error).message).not.toContain('amount');
    expect(sent).toHaveLength(3);
  });

  it('does not wait for a Retry-After beyond the deadline: it says so at once', async () => {
    const { send, sent } = scripted({ status: 503, headers: { 'retry-after': '120' } });
    const started = Date.now();
    const error = await sendIdempotent(send, {}, { ...request, deadlineMs: 5_000 }).catch((e: unknown) => e);
    expect(error).toMatchObject({ reason: 'deadline', attempts: 1 });
    expect(sent).toHaveLength(1);
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('carries the last error as the cause when the last attempt got no answer', async () => {
    const cause = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    const { send } = scripted(cause);
    const error = await sendIdempotent(send, {}, { ...request, maxAttempts: 2 }).catch((e: unknown) => e);
    expect(error).toMatchObject({ reason: 'attempts', attempts: 2, cause });
  });

  it('stops on an error no attempt mends, with an unknown outcome rather than a failure', async () => {
    const { send, sent } = scripted(Object.assign(new Error('certificate has expired'), { code: 'CERT_HAS_EXPIRED' }));
    await expect(sendIdempotent(send, {}, request)).rejects.toMatchObject({ reason: 'not_retryable', attempts: 1 });
    expect(sent).toHaveLength(1);
  });

  it('refuses an invalid key, method or body before sending anything', async () => {
    const { send, sent } = scripted({ status: 200 });
    await expect(sendIdempotent(send, {}, { ...request, key: 'has space' })).rejects.toThrow(TypeError);
    await expect(sendIdempotent(send, {}, { ...request, method: 'GET' as never })).rejects.toThrow(TypeError);
    await expect(sendIdempotent(send, {}, { ...request, body: () => 1 })).rejects.toThrow(TypeError);
    await expect(sendIdempotent(send, {}, { ...request, maxAttempts: 0 })).rejects.toThrow(RangeError);
    expect(sent).toHaveLength(0);
  });

  it('refuses a bad client option when the client is made', () => {
    expect(() => idempotentClient(scripted().send, { deadlineMs: -1 })).toThrow('deadlineMs');
    expect(() => idempotentClient(scripted().send, { maxAttempts: 1.5 })).toThrow('maxAttempts');
    expect(() => idempotentClient(scripted().send, { baseUrl: 'not a url' })).toThrow('Invalid URL');
  });

  it('an aborted signal ends the wait between attempts with an unknown outcome', async () => {
    const controller = new AbortController();
    const { send, sent } = scripted({ status: 503, headers: { 'retry-after': '5' } });
    const pending = sendIdempotent(
      send,
      { onAttempt: () => setImmediate(() => controller.abort()) },
      { ...request, signal: controller.signal },
    );
    await expect(pending).rejects.toMatchObject({ reason: 'aborted', attempts: 1 });
    expect(sent).toHaveLength(1);
  });
});
