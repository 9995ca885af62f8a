/** An error's message, or the thrown value as text, for logs, events and refusal reasons. */
export function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
