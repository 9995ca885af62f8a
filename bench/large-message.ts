/*
 * How long one large RabbitMQ message blocks the event loop in an @Idempotent() consumer (not part of `npm run bench`):
 *
 *   node --expose-gc -r ts-node/register/transpile-only -r tsconfig-paths/register bench/large-message.ts [megabytes, default 16.6]
 *
 * Publishes one message of that size to a consumer acknowledging by hand (memory store), and reports the event loop's
 * longest delay while the consumer takes it (`monitorEventLoopDelay`, 1 ms resolution), besides the time of the parts:
 * the JSON.parse that Nest's RMQ server makes of every message (not the library's), and canonicalising and hashing
 * the payload (the library's fingerprint). Needs RabbitMQ (`BENCH_RABBITMQ_URL`, default amqp://guest:guest@127.0.0.1:5672).
 */
import { Controller, INestMicroservice } from '@nestjs/common';
import { Ctx, EventPattern, Payload, RmqContext, Transport } from '@nestjs/microservices';
import { Test } from '@nestjs/testing';
import { connect } from 'amqplib';
import { randomUUID } from 'node:crypto';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { Idempotent, IdempotencyEvent, IdempotencyModule, MemoryIdempotencyStore } from '@nest-idempotency/core';
import { fingerprintMessage } from '@nest-idempotency/core/core/fingerprint';

const url = process.env.BENCH_RABBITMQ_URL ?? 'amqp://guest:guest@127.0.0.1:5672';

@Controller()
class LargeMessageConsumer {
  runs = 0;

  @EventPattern('bench.large')
  @Idempotent()
  take(@Payload() _payload: unknown, @Ctx() context: RmqContext): void {
    this.runs++;
    context.getChannelRef().ack(context.getMessage());
  }
}

/** A payload of about `bytes` as JSON: many small records, as a batch export would carry. */
function payloadOf(bytes: number): unknown {
  const record = (i: number) => ({ id: `r-${i}`, account: 'acct-000000', amount: 12345, note: 'x'.repeat(40) });
  const batch = (count: number) => Array.from({ length: count }, (_, i) => record(i));
  // Sized from a sample, as the ids grow longer with the count.
  const sample = JSON.stringify(batch(10_000)).length / 10_000;
  return { batch: batch(Math.round(bytes / sample)) };
}

async function main(): Promise<void> {
  const megabytes = Number(process.argv[2] ?? 16.6);
  const queue = `bench-large-${randomUUID()}`;
  const outcomes: string[] = [];
  const moduleRef = await Test.createTestingModule({
    imports: [
      IdempotencyModule.forRoot({
        store: new MemoryIdempotencyStore(),
        rmq: { noAck: false },
        events: (event: IdempotencyEvent) => outcomes.push(event.outcome),
      }),
    ],
    controllers: [LargeMessageConsumer],
  }).compile();
  const app: INestMicroservice = moduleRef.createNestMicroservice({
    transport: Transport.RMQ,
    options: { urls: [url], queue, queueOptions: { durable: false }, noAck: false },
    logger: false,
  });
  // A refusal of a message over maxMessageBytes has no event outcome; its warning is counted instead.
  const quiet = () => undefined;
  const warn = (message: unknown) => void (String(message).includes('message refused') && outcomes.push('refused'));
  app.useLogger({ log: quiet, error: quiet, warn, debug: quiet, verbose: quiet });
  await app.listen();
  const consumer = app.get(LargeMessageConsumer);
  const broker = await connect(url);
  const channel = await broker.createChannel();
  try {
    const content = Buffer.from(JSON.stringify({ pattern: 'bench.large', data: payloadOf(megabytes * 1_000_000) }));
    const delays: number[] = [];
    for (let round = 0; round < 3; round++) {
      const seen = outcomes.length + consumer.runs;
      const delay = monitorEventLoopDelay({ resolution: 1 });
      // Collected before, so the delay measured is the consumer's, not the collection of this script's garbage.
      global.gc?.();
      await sleep(200);
      delay.enable();
      channel.sendToQueue(queue, content, { messageId: randomUUID() });
      const deadline = Date.now() + 30_000;
      while (outcomes.length + consumer.runs === seen && Date.now() < deadline) await sleep(10);
      await sleep(100);
      delay.disable();
      delays.push(delay.max / 1e6);
    }
    console.log(`message: ${(content.length / 1_000_000).toFixed(1)} MB; outcomes: ${outcomes.join(', ')}`);
    console.log(
      `longest event-loop delay while consumed, 3 rounds: ${delays.map((ms) => ms.toFixed(0)).join(', ')} ms`,
    );

    let started = performance.now();
    const payload: unknown = JSON.parse(content.toString()).data;
    console.log(
      `  of which JSON.parse (Nest's RMQ server, every message): ~${(performance.now() - started).toFixed(0)} ms`,
    );
    started = performance.now();
    fingerprintMessage('bench.large', payload);
    console.log(
      `  canonicalise + hash (the fingerprint, when it runs): ~${(performance.now() - started).toFixed(0)} ms`,
    );
  } finally {
    await channel.deleteQueue(queue).catch(() => undefined);
    await broker.close();
    await app.close();
  }
}

void main();
