import { RmqContext } from '@nestjs/microservices';
import { recordingChannel } from '../../../../test/support/recording-rmq-channel';
import { watchForManualAck } from './rmq-manual-ack-watch';

describe('watchForManualAck (noAck: true)', () => {
  it("is told of the handler's settlement of its own message, which still goes to the broker", () => {
    const { channel, sent } = recordingChannel();
    const message = { fields: { deliveryTag: 1 }, properties: {} };
    const other = { fields: { deliveryTag: 2 } };
    const context = new RmqContext([message, channel, 'orders']);
    let told = 0;
    watchForManualAck(context, () => told++);

    context.getChannelRef().ack(other);
    expect(told).toBe(0);
    context.getChannelRef().ack(message);
    expect(told).toBe(1);
    expect(sent).toEqual([
      ['ack', other],
      ['ack', message],
    ]);
  });
});
