import { createHash } from 'node:crypto';
import { ConnectionFaults } from '../support/tcp-proxy';

/** What the link does to one request of the shop to the payments app. */
export type LinkFault = 'pass' | 'drop-answer' | 'delay-answer' | 'reset';

/** One `POST /payments` as it crossed the link. */
export interface LinkAttempt {
  at: number;
  key: string | undefined;
  /** SHA-256 of the body's bytes. */
  bodySha256: string;
  /** The body's `reference`: the order id. */
  reference: string | undefined;
  fault: LinkFault;
  /** The answer's status as payments sent it (undefined: none came, e.g. the request was reset first). */
  status?: number;
  /** When that answer reached the proxy. */
  answeredAt?: number;
}

/**
 * Faults for the TCP proxy between the shop and the payments app, one per HTTP request, drawn with the given
 * weights: `pass`; `drop-answer`: payments gets the request and answers, the connection is reset instead of
 * the answer (the lost "Success"); `delay-answer`: the answer is held `delayMs` (past the shop's timeout);
 * `reset`: the connection is reset as the request's last bytes arrive, so payments never runs it. Every request
 * is recorded (key, body hash, reference, fault, status), to check what the shop sent.
 */
export class PaymentsLink {
  readonly attempts: LinkAttempt[] = [];
  readonly counts: Record<LinkFault, number> = { pass: 0, 'drop-answer': 0, 'delay-answer': 0, reset: 0 };
  enabled = true;

  constructor(
    private readonly weights: Record<LinkFault, number>,
    private readonly delayMs: number,
  ) {}

  /** The proxy's `faults` factory. */
  readonly connection = (): ConnectionFaults => {
    let pending = Buffer.alloc(0);
    let current: LinkAttempt | undefined;
    let answerSeen = false;
    return {
      fromClient: (chunk) => {
        pending = Buffer.concat([pending, chunk]);
        for (;;) {
          const request = takeRequest(pending);
          if (!request) return 'forward';
          pending = pending.subarray(request.length);
          current = this.record(request.head, request.body);
          answerSeen = false;
          if (current.fault === 'reset') return 'reset';
        }
      },
      fromServer: (chunk) => {
        if (!current) return 'forward';
        if (!answerSeen) {
          answerSeen = true;
          current.status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(chunk.toString('latin1'))?.[1]);
          current.answeredAt = Date.now();
        }
        if (current.fault === 'drop-answer') return 'reset';
        if (current.fault === 'delay-answer') return { delayMs: this.delayMs };
        return 'forward';
      },
    };
  };

  private record(head: string, body: Buffer): LinkAttempt {
    let reference: string | undefined;
    try {
      reference = (JSON.parse(body.toString('utf8')) as { reference?: string }).reference;
    } catch {
      // not JSON: no reference
    }
    const attempt: LinkAttempt = {
      at: Date.now(),
      key: /^idempotency-key:\s*(.*?)\s*$/im.exec(head)?.[1],
      bodySha256: createHash('sha256').update(body).digest('hex'),
      reference,
      fault: this.enabled ? this.draw() : 'pass',
    };
    this.counts[attempt.fault]++;
    this.attempts.push(attempt);
    return attempt;
  }

  private draw(): LinkFault {
    const total = Object.values(this.weights).reduce((sum, weight) => sum + weight, 0);
    let roll = Math.random() * total;
    for (const [fault, weight] of Object.entries(this.weights) as Array<[LinkFault, number]>) {
      if ((roll -= weight) < 0) return fault;
    }
    return 'pass';
  }
}

/** The first complete HTTP/1.1 request in `buffer` (head, and a body of `content-length` bytes), if there is one. */
function takeRequest(buffer: Buffer): { head: string; body: Buffer; length: number } | undefined {
  const end = buffer.indexOf('\r\n\r\n');
  if (end < 0) return undefined;
  const head = buffer.subarray(0, end).toString('latin1');
  const length = Number(/^content-length:\s*(\d+)/im.exec(head)?.[1] ?? 0);
  if (buffer.length < end + 4 + length) return undefined;
  return { head, body: buffer.subarray(end + 4, end + 4 + length), length: end + 4 + length };
}
