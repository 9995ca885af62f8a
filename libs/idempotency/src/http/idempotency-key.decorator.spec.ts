import { Body, Controller, ParseUUIDPipe, Post } from '@nestjs/common';
import { IdempotencyKey, takesIdempotencyKey } from './idempotency-key.decorator';

/** An app's own name for it. */
const RefundKey = () => IdempotencyKey(undefined, new ParseUUIDPipe());

@Controller('refunds')
class RefundsController {
  @Post()
  withKey(@Body() _body: unknown, @IdempotencyKey() _key: string) {}

  @Post('plain')
  withoutKey(@Body() _body: unknown) {}

  @Post('none')
  noParameters() {}

  @Post('composed')
  composed(@RefundKey() _key: string) {}
}

class PartialRefundsController extends RefundsController {}

describe('takesIdempotencyKey', () => {
  const { prototype } = RefundsController;

  it('is true for a handler with an @IdempotencyKey() parameter, wherever it stands among the others', () => {
    expect(takesIdempotencyKey(RefundsController, prototype.withKey)).toBe(true);
  });

  it('is false for a handler whose parameters are other decorators, or that has none', () => {
    expect(takesIdempotencyKey(RefundsController, prototype.withoutKey)).toBe(false);
    expect(takesIdempotencyKey(RefundsController, prototype.noParameters)).toBe(false);
  });

  it('sees the parameter through a decorator the app defines (with a pipe) and on a subclass that inherits the handler', () => {
    expect(takesIdempotencyKey(RefundsController, prototype.composed)).toBe(true);
    expect(takesIdempotencyKey(PartialRefundsController, prototype.withKey)).toBe(true);
    expect(takesIdempotencyKey(PartialRefundsController, prototype.withoutKey)).toBe(false);
  });
});
