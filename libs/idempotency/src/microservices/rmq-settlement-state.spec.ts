import { Settlement } from './rmq-handler-channel';
import {
  DeliveryState,
  HANDLER_RUNNING,
  handlerSettles,
  heldSettlement,
  releaseToHandler,
  settleByLibrary,
} from './rmq-settlement-state';

const ack: Settlement = { method: 'ack', args: [] };
const nack: Settlement = { method: 'nack', args: [false, false] };

const holding: DeliveryState = handlerSettles(HANDLER_RUNNING, ack).state;
const released: DeliveryState = releaseToHandler(HANDLER_RUNNING).state;
const settled: DeliveryState = settleByLibrary(HANDLER_RUNNING).state;

describe('DeliveryState transitions', () => {
  it("holds the handler's first settlement while it runs and drops a second one", () => {
    expect(handlerSettles(HANDLER_RUNNING, ack)).toEqual({
      state: { phase: 'handler_running', held: ack },
      fate: 'held',
    });
    expect(handlerSettles(holding, nack)).toEqual({ state: holding, fate: 'dropped_as_second' });
    expect(heldSettlement(holding)).toBe(ack);
    expect(heldSettlement(HANDLER_RUNNING)).toBeUndefined();
  });

  it("leaves the handler's settlement to the broker once released or settled by the library", () => {
    expect(handlerSettles(released, ack)).toEqual({ state: released, fate: 'to_broker' });
    expect(handlerSettles(settled, ack)).toEqual({ state: settled, fate: 'to_broker' });
    expect(heldSettlement(released)).toBeUndefined();
    expect(heldSettlement(settled)).toBeUndefined();
  });

  it('releases what the handler held, or nothing, once; after that there is nothing left to send', () => {
    expect(releaseToHandler(holding)).toEqual({ state: { phase: 'released_to_handler' }, send: ack });
    expect(releaseToHandler(HANDLER_RUNNING)).toEqual({ state: { phase: 'released_to_handler' } });
    expect(releaseToHandler(released)).toEqual({ state: released });
    expect(releaseToHandler(settled)).toEqual({ state: settled });
  });

  it('lets the library settle only while it holds the handler back, a held settlement or not', () => {
    expect(settleByLibrary(HANDLER_RUNNING)).toEqual({ state: { phase: 'settled_by_library' }, send: true });
    expect(settleByLibrary(holding)).toEqual({ state: { phase: 'settled_by_library' }, send: true });
    expect(settleByLibrary(released)).toEqual({ state: released, send: false });
    expect(settleByLibrary(settled)).toEqual({ state: settled, send: false });
  });
});
