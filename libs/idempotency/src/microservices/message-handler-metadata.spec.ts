import { EventPattern, MessagePattern } from '@nestjs/microservices';
import { messageHandlerPatterns } from '../core/message-handler-metadata';

class Handlers {
  @EventPattern('order.placed')
  placed() {}

  @MessagePattern({ cmd: 'invoice' })
  invoice() {}

  plain() {}
}

describe('messageHandlerPatterns', () => {
  it('reads the patterns and tells event handlers from request-reply ones, as Nest marks them', () => {
    expect(messageHandlerPatterns(Handlers.prototype.placed)).toEqual({ patterns: ['order.placed'], isEvent: true });
    expect(messageHandlerPatterns(Handlers.prototype.invoice)).toEqual({
      patterns: ['{"cmd":"invoice"}'],
      isEvent: false,
    });
    expect(messageHandlerPatterns(Handlers.prototype.plain)).toBeUndefined();
  });
});
