/*
 * The peer under the same load: the bench's trivial JSON POST handler behind `@node-idempotency/nestjs` with its
 * Redis adapter (guarded), or the same Nest 10 app without it (unguarded), so the peer's guarded/unguarded ratio
 * is taken against its own baseline. The library supports Nest 9/10 only, hence this folder's own package.json;
 * Nest and the library resolve from ./node_modules.
 *
 *   PEER_GUARDED     1 → guarded (key required, as ours); interceptor → a pass-through interceptor only (Nest 10's
 *                    floor); else unguarded
 *   BENCH_REDIS_URL  for the guarded app
 */
import 'reflect-metadata';
import {
  Body,
  CallHandler,
  Controller,
  DynamicModule,
  ExecutionContext,
  Injectable,
  NestInterceptor,
  Post,
  UseInterceptors,
} from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Idempotent, NodeIdempotencyModule, StorageAdapterEnum } from '@node-idempotency/nestjs';
import { serveBenchApp } from '../apps/app-process';

interface OrderBody {
  amount: number;
  currency: string;
  reference: string;
}

let sequence = 0;

// The same handler as bench/apps/trivial-app.ts.
function createOrder(body: OrderBody) {
  return { id: ++sequence, amount: body.amount, currency: body.currency, reference: body.reference, status: 'created' };
}

@Controller('orders')
class UnguardedOrdersController {
  @Post()
  create(@Body() body: OrderBody) {
    return createOrder(body);
  }
}

@Injectable()
class PassThroughInterceptor implements NestInterceptor {
  intercept(_context: ExecutionContext, next: CallHandler) {
    return next.handle();
  }
}

@Controller('orders')
class PassThroughOrdersController {
  @Post()
  @UseInterceptors(PassThroughInterceptor)
  create(@Body() body: OrderBody) {
    return createOrder(body);
  }
}

@Controller('orders')
class GuardedOrdersController {
  @Post()
  @Idempotent()
  create(@Body() body: OrderBody) {
    return createOrder(body);
  }
}

async function start() {
  const guarded = process.env.PEER_GUARDED === '1';
  let module: DynamicModule;
  if (guarded) {
    const url = process.env.BENCH_REDIS_URL;
    if (!url) throw new Error('BENCH_REDIS_URL is not set');
    module = {
      module: class PeerGuardedModule {},
      imports: [
        NodeIdempotencyModule.forRootAsync({
          storage: { adapter: StorageAdapterEnum.redis, options: { url } },
          // Like ours: a request without a key is refused; records kept 24 h (its default too).
          enforceIdempotency: true,
          cacheTTLMS: 24 * 60 * 60 * 1000,
        }),
      ],
      controllers: [GuardedOrdersController],
    };
  } else if (process.env.PEER_GUARDED === 'interceptor') {
    module = { module: class PeerPassThroughModule {}, controllers: [PassThroughOrdersController] };
  } else {
    module = { module: class PeerUnguardedModule {}, controllers: [UnguardedOrdersController] };
  }
  const app = await NestFactory.create(module, { logger: ['error', 'warn'] });
  await app.listen(0, '127.0.0.1');
  const url = (await app.getUrl()).replace('[::1]', '127.0.0.1');
  return { url, close: () => app.close() };
}

serveBenchApp(start);
