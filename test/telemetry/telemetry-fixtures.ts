import {
  Body,
  CallHandler,
  Controller,
  ExecutionContext,
  Injectable,
  NestInterceptor,
  Param,
  Post,
} from '@nestjs/common';
import { context, ROOT_CONTEXT, trace, TracerProvider } from '@opentelemetry/api';
import { finalize, Observable } from 'rxjs';
import { Idempotent } from '@nest-idempotency/core';
import { Gate } from '../idempotency/fixture.controller';

/** The tracer provider the fixtures' own spans go to (the test's SDK); set by the suite before the app starts. */
export const fixtureTracing: { provider?: TracerProvider } = {};

/** Held by the slow route until a test opens it, so a duplicate meets a request in flight. */
export const slowGate = new Gate();

const tracer = () => fixtureTracing.provider!.getTracer('telemetry-fixture');

/**
 * Stands in for an HTTP server instrumentation: the incoming request's span, the active context for everything
 * the request runs (a global interceptor runs before the route's own, so the library sees it as its parent).
 */
@Injectable()
export class IncomingSpanInterceptor implements NestInterceptor {
  intercept(_context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const span = tracer().startSpan('incoming request', undefined, ROOT_CONTEXT);
    return context.with(trace.setSpan(ROOT_CONTEXT, span), () => next.handle()).pipe(finalize(() => span.end()));
  }
}

/** Routes with a path parameter, so the route attribute can be seen to be the template, not the URL. */
@Controller('telemetry')
export class TelemetryFixtureController {
  @Post('orders/:id')
  @Idempotent()
  create(@Param('id') id: string, @Body() body: Record<string, unknown>) {
    // The handler's own work, traced as an application would: a child of whatever context it runs in.
    tracer().startSpan('handler work').end();
    return { id, body };
  }

  @Post('slow')
  @Idempotent()
  async slow() {
    await slowGate.wait(2_000);
    return { done: true };
  }
}
