import {
  CanActivate,
  ExecutionContext,
  HttpException,
  Injectable,
  UseGuards,
  UsePipes,
  ValidationPipe,
} from '@nestjs/common';
import {
  Args,
  Field,
  GqlExecutionContext,
  ID,
  InputType,
  Int,
  Mutation,
  ObjectType,
  Query,
  Resolver,
} from '@nestjs/graphql';
import { IsPositive } from 'class-validator';
import { setTimeout as sleep } from 'node:timers/promises';
import { IdempotencyKey, Idempotent } from '@nest-idempotency/core';
import { CallCounter } from '../idempotency/fixture.controller';

export const calls = new CallCounter();

/** Plays the authentication guard of a real app: `x-user` becomes `request.user` on the GraphQL context's `req`. */
@Injectable()
export class GqlHeaderUserGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const request = GqlExecutionContext.create(context).getContext().req;
    const user = request.headers['x-user'];
    if (user) request.user = { id: user };
    return true;
  }
}

@ObjectType()
export class Payment {
  @Field(() => ID)
  id: string;

  @Field(() => Int)
  amount: number;

  @Field()
  currency: string;

  /** Which run of the resolver made it: a replay shows the first run's number. */
  @Field(() => Int)
  run: number;

  @Field({ nullable: true })
  note?: string;
}

@InputType()
export class PaymentInput {
  @Field(() => Int)
  @IsPositive()
  amount: number;

  @Field()
  currency: string;

  @Field({ nullable: true, defaultValue: 'none' })
  note?: string;
}

@Resolver(() => Payment)
@UseGuards(GqlHeaderUserGuard)
export class PaymentsFixtureResolver {
  /** How long `slowPayment` takes, so that concurrent duplicates meet a request still in flight. */
  static slowMs = 300;

  @Query(() => String)
  ping(): string {
    return 'pong';
  }

  @Mutation(() => Payment, { nullable: true })
  @Idempotent()
  @UsePipes(new ValidationPipe())
  createPayment(@Args('input') input: PaymentInput): Payment {
    const run = calls.hit('createPayment');
    return { id: `pay_${run}`, run, ...input };
  }

  @Mutation(() => Payment, { nullable: true })
  @Idempotent()
  refund(@Args('paymentId', { type: () => ID }) paymentId: string): Payment {
    const run = calls.hit('refund');
    return { id: `ref_${run}`, amount: 1, currency: 'EUR', run, note: paymentId };
  }

  @Mutation(() => Payment, { nullable: true })
  @Idempotent()
  async slowPayment(@Args('amount', { type: () => Int }) amount: number): Promise<Payment> {
    const run = calls.hit('slowPayment');
    await sleep(PaymentsFixtureResolver.slowMs);
    return { id: `slow_${run}`, amount, currency: 'EUR', run };
  }

  @Mutation(() => Payment, { nullable: true })
  @Idempotent({ onConflict: { wait: 5_000 } })
  async waitingPayment(@Args('amount', { type: () => Int }) amount: number): Promise<Payment> {
    const run = calls.hit('waitingPayment');
    await sleep(PaymentsFixtureResolver.slowMs);
    return { id: `wait_${run}`, amount, currency: 'EUR', run };
  }

  /** A business refusal: stored and replayed like a result. */
  @Mutation(() => Payment, { nullable: true })
  @Idempotent()
  declinedPayment(@Args('amount', { type: () => Int }) amount: number): Payment {
    const run = calls.hit('declinedPayment');
    throw new HttpException({ statusCode: 402, message: `Insufficient funds for ${amount} (run ${run})` }, 402);
  }

  /** Fails once, then succeeds: a failure releases the key, so the retry runs. */
  @Mutation(() => Payment, { nullable: true })
  @Idempotent()
  flakyPayment(@Args('amount', { type: () => Int }) amount: number): Payment {
    const run = calls.hit('flakyPayment');
    if (run === 1) throw new Error('upstream timed out');
    return { id: `flaky_${run}`, amount, currency: 'EUR', run };
  }

  @Mutation(() => Payment, { nullable: true })
  @Idempotent({ required: false })
  optionalKeyPayment(@Args('amount', { type: () => Int }) amount: number): Payment {
    const run = calls.hit('optionalKeyPayment');
    return { id: `opt_${run}`, amount, currency: 'EUR', run };
  }

  @Mutation(() => String, { nullable: true })
  @Idempotent()
  echoKey(@IdempotencyKey() key: string): string {
    calls.hit('echoKey');
    return key;
  }
}
