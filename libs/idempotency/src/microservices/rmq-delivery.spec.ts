import { Logger } from '@nestjs/common';
import { RmqContext } from '@nestjs/microservices';
import { recordingChannel } from '../../../../test/support/recording-rmq-channel';
import { RmqDelivery } from './rmq-delivery';

describe('RmqDelivery (manual acknowledgement)', () => {
  const logger = new Logger('test');
  let warnings: string[];
  beforeEach(() => {
    warnings = [];
    vi.spyOn(logger, 'warn').mockImplementation((message) => void warnings.push(String(message)));
  });

  function deliver(shared = recordingChannel(), deliveryTag = 1) {
    const { channel, sent } = shared;
    const message = { fields: { deliveryTag }, properties: { messageId: 'order-1' } };
    const context = new RmqContext([message, channel, 'orders']);
    return { delivery: new RmqDelivery(context, 'event orders', logger), context, message, sent, channel };
  }

  it("holds the handler's ack of its message until released; other calls and messages pass through", () => {
    const { delivery, context, message, sent } = deliver();
    const seen = context.getChannelRef();
    const other = { fields: { deliveryTag: 2 } };
    seen.ack(message);
    seen.ack(other);
    expect(seen.prefetch(5)).toBe(5);
    expect(sent).toEqual([['ack', other]]);
    delivery.releaseHandlerSettlement(false);
    expect(sent).toEqual([
      ['ack', other],
      ['ack', message],
    ]);
    seen.nack(message, false, true); // after the release, the handler's own call is its own
    expect(sent).toHaveLength(3);
  });

  it('requeues instead of acking when the work was rolled back, and keeps a nack as the handler made it', () => {
    const acked = deliver();
    acked.context.getChannelRef().ack(acked.message);
    acked.delivery.releaseHandlerSettlement(true);
    expect(acked.sent).toEqual([['nack', acked.message, false, true]]);

    const nacked = deliver();
    nacked.context.getChannelRef().nack(nacked.message, false, false);
    nacked.delivery.releaseHandlerSettlement(true);
    expect(nacked.sent).toEqual([['nack', nacked.message, false, false]]);
  });

  it("names the handler's rejection of its message, requeued or not; an ack or nothing is none", () => {
    const settled = (settle: (channel: any, message: unknown) => void) => {
      const { delivery, context, message } = deliver();
      settle(context.getChannelRef(), message);
      return delivery.handlerRejection();
    };
    expect(settled((channel, message) => channel.nack(message, false, false))).toBe('nack without requeue');
    expect(settled((channel, message) => channel.nack(message, false, true))).toBe('nack with requeue');
    expect(settled((channel, message) => channel.nack(message))).toBe('nack with requeue');
    expect(settled((channel, message) => channel.reject(message, false))).toBe('reject without requeue');
    expect(settled((channel, message) => channel.reject(message))).toBe('reject with requeue');
    expect(settled((channel, message) => channel.ack(message))).toBeUndefined();
    expect(settled(() => undefined)).toBeUndefined();
  });

  it('drops a second settlement of one message, which would close the channel, with a warning', () => {
    const { delivery, context, message, sent } = deliver();
    context.getChannelRef().ack(message);
    context.getChannelRef().ack(message);
    delivery.releaseHandlerSettlement(false);
    expect(sent).toEqual([['ack', message]]);
    expect(warnings).toEqual(['event orders: the handler settled its message twice; the second ack was dropped']);
  });

  it('settles a message whose handler never ran: ack, reject without requeue, or requeue after a delay', async () => {
    const replayed = deliver();
    replayed.delivery.ack();
    replayed.delivery.ack();
    expect(replayed.sent).toEqual([['ack', replayed.message]]);

    const refused = deliver();
    refused.delivery.reject();
    expect(refused.sent).toEqual([['nack', refused.message, false, false]]);

    const busy = deliver();
    busy.delivery.requeueAfter(30);
    expect(busy.sent).toEqual([]);
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(busy.sent).toEqual([['nack', busy.message, false, true]]);
  });

  it("settles in the library's own way over a held settlement, which is dropped; a release then sends nothing", async () => {
    const { delivery, context, message, sent } = deliver();
    context.getChannelRef().ack(message);
    delivery.reject(); // the work ran, then the protocol refused it after all
    delivery.releaseHandlerSettlement(false);
    delivery.requeueAfter(0);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(sent).toEqual([['nack', message, false, false]]);
    expect(delivery.handlerRejection()).toBeUndefined();
  });

  it('leaves a released message to its handler: a library settlement after the handler acked it is dropped', async () => {
    const { delivery, context, message, sent } = deliver();
    delivery.releaseHandlerSettlement(false); // nothing held: the handler runs unprotected
    context.getChannelRef().ack(message);
    delivery.ack();
    delivery.reject();
    delivery.requeueAfter(0);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(sent).toEqual([['ack', message]]);
  });

  it('keeps a copy delivered on the same channel apart from the first delivery, whose ack is still held', async () => {
    const shared = recordingChannel();
    const first = deliver(shared, 1);
    const copy = deliver(shared, 2);
    first.context.getChannelRef().ack(first.message);
    copy.delivery.requeueAfter(0); // in progress: the first delivery's record is not settled yet
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(shared.sent).toEqual([['nack', copy.message, false, true]]);
    first.delivery.releaseHandlerSettlement(false);
    expect(shared.sent).toEqual([
      ['nack', copy.message, false, true],
      ['ack', first.message],
    ]);
  });

  it('logs a settlement the closed channel refused, rather than throwing', () => {
    const { delivery, channel } = deliver();
    channel.ack = () => {
      throw new Error('Channel closed');
    };
    expect(() => delivery.ack()).not.toThrow();
    expect(warnings[0]).toContain('could not ack the message (Channel closed)');
  });
});
