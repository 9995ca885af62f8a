import {
  Body,
  Controller,
  HttpCode,
  Injectable,
  InternalServerErrorException,
  MiddlewareConsumer,
  Module,
  NestMiddleware,
  NestModule,
  Post,
  Req,
} from '@nestjs/common';
import { setTimeout as sleep } from 'node:timers/promises';
import { IdempotencyModule, Idempotent, MemoryIdempotencyStore } from '@nest-idempotency/core';

/** An answer the gate gives instead of the route, as a proxy or rate limiter in front of it would. */
export interface GateAnswer {
  status: number;
  retryAfter?: string;
}

/** What the route does on one run: fail with a 500, run and then lose the answer, or take its time. */
export type HandlerStep = 'fail' | 'drop' | { delayMs: number };

/**
 * The server's script, per idempotency key: the gate's answers and the route's steps, taken one per request, then
 * plain success. It records every request that arrived and the raw body bytes of every run of the route.
 */
@Injectable()
export class PaymentsScript {
  readonly gate = new Map<string, GateAnswer[]>();
  readonly steps = new Map<string, HandlerStep[]>();
  /** Keys of every request that reached the server, in order (one entry per attempt). */
  readonly arrivals: string[] = [];
  /** The raw bodies of the route's runs, per key. */
  readonly runs = new Map<string, string[]>();
  /** Keys of the runs that returned, in order. */
  readonly finished: string[] = [];

  arrivalsOf(key: string): number {
    return this.arrivals.filter((arrival) => arrival === key).length;
  }

  runsOf(key: string): string[] {
    return this.runs.get(key) ?? [];
  }
}

/** Answers from the script's gate before the route (and its `@Idempotent()`) sees the request. */
@Injectable()
export class ScriptedGate implements NestMiddleware {
  constructor(private readonly script: PaymentsScript) {}

  // Express and Fastify (through middie) both pass Node's request and response here.
  use(request: any, response: any, next: () => void): void {
    const key = String(request.headers['idempotency-key']);
    this.script.arrivals.push(key);
    const answer = this.script.gate.get(key)?.shift();
    if (!answer) return next();
    response.statusCode = answer.status;
    if (answer.retryAfter !== undefined) response.setHeader('Retry-After', answer.retryAfter);
    response.setHeader('content-type', 'application/json');
    response.end(JSON.stringify({ statusCode: answer.status, message: 'from the gate' }));
  }
}

@Controller('client')
export class PaymentsController {
  constructor(private readonly script: PaymentsScript) {}

  @Post('payments')
  @HttpCode(201)
  @Idempotent()
  async pay(@Body() body: { amount: number }, @Req() request: any) {
    const key = String(request.headers['idempotency-key']);
    const runs = [...this.script.runsOf(key), (request.rawBody as Buffer).toString('base64')];
    this.script.runs.set(key, runs);
    const step = this.script.steps.get(key)?.shift();
    if (step === 'fail') throw new InternalServerErrorException();
    if (step === 'drop') {
      // The work is done and its record completes; only the answer is lost on the way.
      (request.raw ?? request).socket.destroy();
    } else if (step) {
      await sleep(step.delayMs);
    }
    this.script.finished.push(key);
    return { id: `pay_${runs.length}`, amount: body.amount };
  }
}

/** The scripted server: `@Idempotent()` on a memory store, the gate in front of every route. */
@Module({
  imports: [IdempotencyModule.forRoot({ store: new MemoryIdempotencyStore(), lockTimeout: 10_000 })],
  controllers: [PaymentsController],
  providers: [PaymentsScript, ScriptedGate],
})
export class ScriptedPaymentsModule implements NestModule {
  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(ScriptedGate).forRoutes(PaymentsController);
  }
}
