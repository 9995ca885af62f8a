import { HttpException } from '@nestjs/common';
import {
  IdempotencyInProgressException,
  IdempotencyKeyInvalidException,
  IdempotencyKeyMismatchException,
  IdempotencyKeyMissingException,
  IdempotencyStoreUnavailableException,
} from './idempotency.exceptions';

/** The media type of RFC 9457 problem details. */
export const PROBLEM_JSON_CONTENT_TYPE = 'application/problem+json';

/** An RFC 9457 problem details object, as the library answers its own errors with `errorFormat: 'problem+json'`. */
export interface IdempotencyProblemDetails {
  /** Identifies the kind of problem: compare this, not `title` or `detail`. */
  type: string;
  /** A short summary of the kind of problem; the same for every occurrence. */
  title: string;
  status: number;
  /** What happened this time and what the client should do. */
  detail: string;
}

// Each type points at the part of the protocol's documentation that explains it.
const PROTOCOL = 'https://github.com/nest-idempotency/nest-idempotency/blob/main/docs/protocol.md';

/** The kinds of problem, with the titles the IETF draft's examples use where it has one. */
const PROBLEMS: ReadonlyArray<[Function, { type: string; title: string }]> = [
  [IdempotencyKeyMissingException, { type: `${PROTOCOL}#1-the-key`, title: 'Idempotency-Key is missing' }],
  [IdempotencyKeyInvalidException, { type: `${PROTOCOL}#1-the-key`, title: 'Idempotency-Key is invalid' }],
  [
    IdempotencyKeyMismatchException,
    { type: `${PROTOCOL}#3-the-fingerprint`, title: 'Idempotency-Key is already used' },
  ],
  [
    IdempotencyInProgressException,
    {
      type: `${PROTOCOL}#4-acquire-one-atomic-step-one-round-trip`,
      title: 'A request is outstanding for this Idempotency-Key',
    },
  ],
  [
    IdempotencyStoreUnavailableException,
    { type: `${PROTOCOL}#7-when-the-store-fails`, title: 'The idempotency store is unavailable' },
  ],
];

/**
 * One of the library's refusals answered as problem details. `@Idempotent()` routes carry the filter that writes
 * it (`IdempotencyProblemFilter`), because Nest's default one would send the body as `application/json`.
 */
export class IdempotencyProblemException extends HttpException {
  constructor(
    readonly problem: IdempotencyProblemDetails,
    cause: unknown,
  ) {
    super(problem, problem.status, { cause });
  }
}

/**
 * The problem details of one of the library's own errors, or undefined for any other error (a handler's
 * exceptions are the application's to shape).
 */
export function problemDetailsOf(error: unknown): IdempotencyProblemDetails | undefined {
  if (!(error instanceof HttpException)) return undefined;
  const problem = PROBLEMS.find(([kind]) => error instanceof kind)?.[1];
  if (!problem) return undefined;
  const body = error.getResponse() as { message?: unknown };
  return { ...problem, status: error.getStatus(), detail: String(body.message ?? error.message) };
}
