import { RmqContext } from '@nestjs/microservices';
import { messageSizeOver, payloadSizeOver } from './message-size';

describe('messageSizeOver', () => {
  it("takes a RabbitMQ message's raw content length, whatever its parsed payload", () => {
    const rmq = (content: Buffer) => new RmqContext([{ content, properties: {}, fields: {} }, {}, 'orders']);
    expect(messageSizeOver(rmq(Buffer.alloc(2_000)), {}, 1_000)).toBe(2_000);
    expect(messageSizeOver(rmq(Buffer.alloc(1_000)), 'x'.repeat(5_000), 1_000)).toBeUndefined();
  });

  it('elsewhere measures the payload, roughly as JSON would take it', () => {
    expect(messageSizeOver(undefined, { note: 'x'.repeat(900) }, 1_000)).toBeUndefined();
    expect(messageSizeOver(undefined, { note: 'x'.repeat(1_000) }, 1_000)).toBeGreaterThan(1_000);
    expect(
      payloadSizeOver(
        Array.from({ length: 200 }, (_, i) => i),
        1_000,
      ),
    ).toBeGreaterThan(1_000);
    expect(payloadSizeOver(Buffer.alloc(1_001), 1_000)).toBeGreaterThan(1_000);
    expect(payloadSizeOver(undefined, 1_000)).toBeUndefined();
  });

  it('stops once past the bound: a huge payload or a reference cycle costs at most the bound in steps', () => {
    const huge = Array.from({ length: 1_000_000 }, () => ({ a: 1 }));
    // Counted by hand rather than with a spy: a runner's spy records its calls with push() itself.
    const push = Array.prototype.push;
    let pushes = 0;
    Array.prototype.push = function (this: unknown[], ...items: unknown[]) {
      pushes++;
      return push.apply(this, items);
    };
    let size: number | undefined;
    try {
      size = payloadSizeOver(huge, 1_000);
    } finally {
      Array.prototype.push = push;
    }
    expect(size).toBeGreaterThan(1_000);
    expect(pushes).toBeLessThan(1_000);
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    expect(payloadSizeOver(cycle, 1_000)).toBeGreaterThan(1_000);
  });
});
