import {
  Body,
  CanActivate,
  Controller,
  ExecutionContext,
  Header,
  HttpCode,
  HttpException,
  Injectable,
  Param,
  ParseIntPipe,
  Post,
  Req,
  Res,
  StreamableFile,
  UseGuards,
} from '@nestjs/common';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { IdempotencyKey, Idempotent, sharedScope } from '@nest-idempotency/core';

/** Counts handler runs per route, so tests can assert "ran once". */
export class CallCounter {
  private readonly counts = new Map<string, number>();
  hit(route: string): number {
    const next = (this.counts.get(route) ?? 0) + 1;
    this.counts.set(route, next);
    return next;
  }
  of(route: string): number {
    return this.counts.get(route) ?? 0;
  }
  reset(): void {
    this.counts.clear();
  }
}

/** Holds slow handlers until a test lets them go, so concurrency is deterministic. */
export class Gate {
  private waiters: Array<() => void> = [];
  private openFor = 0;
  wait(ms = 500): Promise<void> {
    if (this.openFor > 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.waiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
  open(): void {
    this.openFor = 1;
    this.waiters.splice(0).forEach((release) => release());
  }
  reset(): void {
    this.openFor = 0;
    this.waiters = [];
  }
}

export const calls = new CallCounter();

/** Plays the authentication guard of a real app: `x-user` becomes `request.user`. */
@Injectable()
export class HeaderUserGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest();
    const user = request.headers['x-user'];
    if (user) request.user = { id: user };
    return true;
  }
}

@Controller('orders')
@UseGuards(HeaderUserGuard)
export class OrdersFixtureController {
  @Post()
  @Idempotent({ replayHeaders: ['x-order-version'] })
  @Header('x-order-version', '7')
  create(@Body() body: Record<string, unknown>, @Res({ passthrough: true }) response: any) {
    const run = calls.hit('create');
    const id = `order-${run}`;
    setHeader(response, 'location', `/orders/${id}`);
    setHeader(response, 'set-cookie', `session=${run}`);
    return { id, run, body };
  }

  @Post(':id/refunds')
  @Idempotent()
  refund(@Param('id') id: string, @Body() body: Record<string, unknown>) {
    return { refund: calls.hit('refund'), of: id, body };
  }

  @Post('optional')
  @Idempotent({ required: false })
  optional() {
    return { run: calls.hit('optional') };
  }

  @Post('declined')
  @Idempotent()
  declined() {
    const run = calls.hit('declined');
    throw new HttpException({ statusCode: 402, error: 'Payment Required', message: `declined on run ${run}` }, 402);
  }

  @Post('flaky')
  @Idempotent()
  flaky() {
    const run = calls.hit('flaky');
    if (run === 1) throw new HttpException('upstream broke', 502);
    return { run };
  }

  @Post('crash')
  @Idempotent()
  crash() {
    calls.hit('crash');
    throw new Error('a bug, not an HTTP answer');
  }

  @Post('accepted')
  @Idempotent()
  @HttpCode(202)
  accepted() {
    return `accepted ${calls.hit('accepted')}`;
  }

  @Post('empty')
  @Idempotent()
  @HttpCode(204)
  empty() {
    calls.hit('empty');
  }

  @Post('parsed/:n')
  @Idempotent()
  parsed(@Param('n', ParseIntPipe) n: number) {
    return { n, run: calls.hit('parsed') };
  }

  @Post('key')
  @Idempotent()
  key(@IdempotencyKey() key: string) {
    return { key, run: calls.hit('key') };
  }

  /** No `@IdempotencyKey()` parameter: the guard leaves nothing on the request (a property added costs V8 a new layout). */
  @Post('request-untouched')
  @Idempotent()
  requestUntouched(@Req() request: object) {
    return { keyOnRequest: Symbol.for('idempotency:key') in request, run: calls.hit('request-untouched') };
  }

  @Post('tenant')
  @Idempotent({ fingerprint: { headers: ['x-tenant'] } })
  tenant() {
    return { run: calls.hit('tenant') };
  }

  @Post('file')
  @Idempotent()
  file() {
    calls.hit('file');
    return new StreamableFile(Buffer.from('file body'));
  }

  @Post('stream')
  @Idempotent()
  stream() {
    calls.hit('stream');
    return Readable.from(['streamed']);
  }

  @Post('big')
  @Idempotent({ maxResponseBytes: 1024 })
  big() {
    return { run: calls.hit('big'), padding: 'x'.repeat(2048) };
  }
}

/** Slow routes for concurrency and lease tests; `gate` decides when they finish. */
@Controller('slow')
export class SlowFixtureController {
  static gate = new Gate();

  @Post()
  @Idempotent()
  async reject(@Body() body: unknown) {
    const run = calls.hit('slow');
    await SlowFixtureController.gate.wait(2_000);
    return { run, body };
  }

  @Post('wait')
  @Idempotent({ onConflict: { wait: 5_000 } })
  async wait() {
    const run = calls.hit('slow-wait');
    await SlowFixtureController.gate.wait(2_000);
    return { run };
  }

  @Post('short-wait')
  @Idempotent({ onConflict: { wait: 150 } })
  async shortWait() {
    const run = calls.hit('slow-short-wait');
    await SlowFixtureController.gate.wait(2_000);
    return { run };
  }

  @Post('hinted')
  @Idempotent({ retryAfter: 2_500 })
  async hinted() {
    const run = calls.hit('slow-hinted');
    await SlowFixtureController.gate.wait(2_000);
    return { run };
  }

  @Post('hour-lease')
  @Idempotent({ lockTimeout: 60 * 60 * 1000 })
  async hourLease() {
    const run = calls.hit('slow-hour-lease');
    await SlowFixtureController.gate.wait(2_000);
    return { run };
  }

  @Post('lease')
  @Idempotent({ lockTimeout: 300 })
  async lease() {
    const run = calls.hit('lease');
    // The first run outlives its lease; the one that takes over finishes at once.
    if (run === 1) await sleep(900);
    return { run };
  }
}

/** Routes that callers may reach without a principal: the default scope, and a shared space declared on purpose. */
@Controller('public')
@UseGuards(HeaderUserGuard)
export class PublicFixtureController {
  @Post('anonymous')
  @Idempotent()
  anonymous(@Body() body: unknown) {
    return { run: calls.hit('anonymous'), body };
  }

  @Post('shared')
  @Idempotent({ scope: sharedScope })
  shared(@Body() body: unknown) {
    return { run: calls.hit('shared'), body };
  }
}

/** A controller-wide default that a method overrides (both register the interceptor). */
@Controller('layered')
@Idempotent({ required: false })
export class LayeredFixtureController {
  @Post('loose')
  loose() {
    return { run: calls.hit('loose') };
  }

  @Post('strict')
  @Idempotent({ required: true })
  strict() {
    return { run: calls.hit('strict') };
  }
}

function setHeader(response: { header: (name: string, value: string) => unknown }, name: string, value: string): void {
  // Express responses and Fastify replies both have header(name, value).
  response.header(name, value);
}
