/**
 * `compute`, remembering its last input and result: for a value a process asks for on every request and that is
 * nearly always the same (a configured header name, a key prefix), so the work is done once, not per request.
 */
export function rememberLast<T>(compute: (input: string) => T): (input: string) => T {
  let lastInput: string | undefined;
  let lastResult: T;
  return (input) => {
    if (input !== lastInput) {
      lastResult = compute(input);
      lastInput = input;
    }
    return lastResult;
  };
}
