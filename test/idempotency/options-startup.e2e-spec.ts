import { Controller, Injectable, Module, Post } from '@nestjs/common';
import { IdempotencyModule, Idempotent, IdempotentRouteOptions } from '@nest-idempotency/core';
import { bootAndClose } from '../support/http-app';

/**
 * A configuration of the wrong type (a store named as a string, a number read from the environment as a string,
 * a misspelt option) stops the application as it starts, naming the option, rather than failing every request.
 */

@Controller('orders')
class OrdersController {
  @Post()
  @Idempotent()
  create(): number {
    return 1;
  }
}

@Controller('refunds')
class MisspeltController {
  @Post()
  @Idempotent({ lockTimout: 1_000 } as IdempotentRouteOptions)
  create(): number {
    return 1;
  }
}

/** Plays `@nestjs/config`'s ConfigService: what it reads from the environment is a string. */
@Injectable()
class EnvConfig {
  private readonly env: Record<string, string> = { IDEMPOTENCY_TTL_MS: '60000' };
  get(name: string): string | undefined {
    return this.env[name];
  }
}

@Module({ providers: [EnvConfig], exports: [EnvConfig] })
class EnvConfigModule {}

describe('start-up checks of option types', () => {
  it('refuses a store given as a string in forRoot (plain JavaScript, or any)', async () => {
    const store: any = 'redis';
    await expect(
      bootAndClose({ imports: [IdempotencyModule.forRoot({ store })], controllers: [OrdersController] }),
    ).rejects.toThrow(
      'Idempotency option "store" must be an IdempotencyStore (an object with acquire, complete and release functions), got the string "redis"',
    );
  });

  it('names the type of a number read from the environment as a string in forRootAsync', async () => {
    const imports = [
      IdempotencyModule.forRootAsync({
        imports: [EnvConfigModule],
        inject: [EnvConfig],
        useFactory: (config: EnvConfig) => ({ ttl: config.get('IDEMPOTENCY_TTL_MS') as any }),
      }),
    ];
    await expect(bootAndClose({ imports, controllers: [OrdersController] })).rejects.toThrow(
      'Idempotency option "ttl" must be a positive whole number, got the string "60000"',
    );
  });

  it('refuses a misspelt option on a route, naming the route and the option it resembles', async () => {
    await expect(
      bootAndClose({ imports: [IdempotencyModule.forRoot({})], controllers: [MisspeltController] }),
    ).rejects.toThrow(
      '@Idempotent() on MisspeltController.create: Unknown idempotency option "lockTimout" (did you mean "lockTimeout"?)',
    );
  });
});
