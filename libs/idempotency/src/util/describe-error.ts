/** An error's message, or the thrown value as text, for logs, events and refusal reasons. */
export function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** An error's stack, for a log line that should show where a callback failed; undefined for a thrown non-error. */
export function errorStack(error: unknown): string | undefined {
  return error instanceof Error ? error.stack : undefined;
}
