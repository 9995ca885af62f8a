import { Settlement } from './rmq-handler-channel';

/**
 * Where one RabbitMQ delivery's settlement stands under manual acknowledgement. A message must be settled once: a
 * second settlement closes the channel (PRECONDITION_FAILED), and with it every other unacknowledged message on
 * it. So one value says who settles the message now, and "released yet still holding" or "settled by both the
 * handler and the library" cannot be written down.
 */
export type DeliveryState =
  /** The handler may run: the library keeps its settlement of the message (at most one) until the record settles. */
  | { readonly phase: 'handler_running'; readonly held?: Settlement }
  /** The record settled and what the handler held was sent: any later call the handler makes is its own. */
  | { readonly phase: 'released_to_handler' }
  /** The library settled the message itself (a replay, a refusal): whatever the handler held was dropped. */
  | { readonly phase: 'settled_by_library' };

export const HANDLER_RUNNING: DeliveryState = { phase: 'handler_running' };
const RELEASED_TO_HANDLER: DeliveryState = { phase: 'released_to_handler' };
const SETTLED_BY_LIBRARY: DeliveryState = { phase: 'settled_by_library' };

/** What became of a handler's settlement of its message: kept, dropped as a second one, or left to the broker. */
export type HandlerSettlementFate = 'held' | 'dropped_as_second' | 'to_broker';

/** The handler settles its message: kept while the library holds its settlement, its own call once it does not. */
export function handlerSettles(
  state: DeliveryState,
  settlement: Settlement,
): { state: DeliveryState; fate: HandlerSettlementFate } {
  if (state.phase !== 'handler_running') return { state, fate: 'to_broker' };
  if (state.held) return { state, fate: 'dropped_as_second' };
  return { state: { phase: 'handler_running', held: settlement }, fate: 'held' };
}

/**
 * The record settled (or the handler runs unprotected): the settlement the handler made goes out, if it made one,
 * and from now on its calls reach the broker. Once the message has been released or settled, nothing is left to send.
 */
export function releaseToHandler(state: DeliveryState): { state: DeliveryState; send?: Settlement } {
  if (state.phase !== 'handler_running') return { state };
  return { state: RELEASED_TO_HANDLER, send: state.held };
}

/**
 * The library settles the message itself, in place of whatever the handler holds: only while it still holds the
 * handler's settlement back. After a release the message is the handler's, which may have settled it already.
 */
export function settleByLibrary(state: DeliveryState): { state: DeliveryState; send: boolean } {
  if (state.phase !== 'handler_running') return { state, send: false };
  return { state: SETTLED_BY_LIBRARY, send: true };
}

/** The settlement the handler made of its message while the library holds it back, if it made one. */
export function heldSettlement(state: DeliveryState): Settlement | undefined {
  return state.phase === 'handler_running' ? state.held : undefined;
}
