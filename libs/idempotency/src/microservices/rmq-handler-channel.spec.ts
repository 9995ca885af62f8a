import { RmqContext } from '@nestjs/microservices';
import { Settlement, swapHandlerChannel } from './rmq-handler-channel';
import { recordingChannel } from '../../../../test/support/recording-rmq-channel';

describe('swapHandlerChannel', () => {
  function swapped(route: (settlement: Settlement) => 'send' | 'keep') {
    const { channel, sent } = recordingChannel();
    const message = { fields: { deliveryTag: 1 }, properties: {} };
    const context = new RmqContext([message, channel, 'orders']);
    const returned = swapHandlerChannel(context, route);
    return { context, message, sent, channel, returned };
  }

  it("routes the handler's settlement of its own message, and sends it only when told to", () => {
    const routed: Settlement[] = [];
    const { context, message, sent } = swapped((settlement) => {
      routed.push(settlement);
      return settlement.method === 'ack' ? 'keep' : 'send';
    });
    const seen = context.getChannelRef();
    seen.ack(message);
    seen.nack(message, false, true);
    seen.reject(message, false);
    expect(routed).toEqual([
      { method: 'ack', args: [] },
      { method: 'nack', args: [false, true] },
      { method: 'reject', args: [false] },
    ]);
    expect(sent).toEqual([
      ['nack', message, false, true],
      ['reject', message, false],
    ]);
  });

  it("passes other messages' settlements and every other call straight through", () => {
    const routed: Settlement[] = [];
    const { context, sent } = swapped((settlement) => (routed.push(settlement), 'keep'));
    const other = { fields: { deliveryTag: 2 } };
    context.getChannelRef().ack(other);
    expect(context.getChannelRef().prefetch(5)).toBe(5);
    expect(routed).toEqual([]);
    expect(sent).toEqual([['ack', other]]);
  });

  it("returns the broker's channel and swaps only this context's", () => {
    const { context, channel, returned } = swapped(() => 'send');
    const neighbour = new RmqContext([{}, channel, 'orders']);
    expect(returned).toBe(channel);
    expect(context.getChannelRef()).not.toBe(channel);
    expect(neighbour.getChannelRef()).toBe(channel);
  });
});
