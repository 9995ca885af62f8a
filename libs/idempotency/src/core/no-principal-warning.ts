import { Logger } from '@nestjs/common';

/** Where a transport remembers, per handler, that it has warned about a missing principal. */
export interface NoPrincipalWarningState {
  warnedNoPrincipal?: boolean;
}

/**
 * The default scope found no principal: every caller without one shares the handler's key space, so one client's
 * key can replay another's `answer` (response, result). Said once per handler, not once per request.
 */
export function warnNoPrincipalOnce(
  logger: Logger,
  state: NoPrincipalWarningState,
  route: string,
  answer: 'response' | 'result',
): void {
  if (state.warnedNoPrincipal) return;
  state.warnedNoPrincipal = true;
  logger.warn(
    `${route}: no principal on the request (request.user) for the default idempotency scope, so every caller ` +
      `without one shares one key space and can be replayed another's ${answer}. Set the "scope" option to ` +
      `what identifies the caller, or to sharedScope to declare one shared space on purpose.`,
  );
}
