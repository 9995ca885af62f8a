'use strict';
// Smoke test of the packed @nest-idempotency/core on NestJS 12's @nestjs/microservices, over a real RabbitMQ
// (TEST_RABBITMQ_URL, default amqp://guest:guest@127.0.0.1:5672) with manual acknowledgement: the library loads
// the ESM-only package through require(esm) on the first message and reads NestJS 12's RmqContext.
// Plain CommonJS run by plain `node`, as smoke.cjs; run.sh installs everything first.

const GLOBAL_TIMEOUT_MS = Number(process.env.SMOKE_GLOBAL_TIMEOUT_MS || 30_000);
const RABBITMQ_URL = process.env.TEST_RABBITMQ_URL || 'amqp://guest:guest@127.0.0.1:5672';

const globalTimer = setTimeout(() => {
  console.error(`smoke nest12 microservices: TIMEOUT after ${GLOBAL_TIMEOUT_MS} ms`);
  process.exit(1);
}, GLOBAL_TIMEOUT_MS);

const path = require('node:path');
const assert = require('node:assert/strict');
const { randomUUID } = require('node:crypto');

let passed = 0;
let failed = 0;
function check(name, fn) {
  try {
    fn();
    passed++;
    console.log(`ok   - ${name}`);
  } catch (error) {
    failed++;
    console.log(
      `FAIL - ${name}\n       ${String((error && error.message) || error)
        .split('\n')
        .join('\n       ')}`,
    );
  }
}

async function waitFor(what, condition, timeoutMs = 5_000) {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function finish() {
  clearTimeout(globalTimer);
  console.log(`smoke nest12 microservices: ${passed} passed, ${failed} failed`);
  process.exit(failed === 0 && passed > 0 ? 0 : 1);
}

async function run() {
  const libDir = path.dirname(require.resolve('@nest-idempotency/core/package.json'));
  const fromLib = (id) => require.resolve(id, { paths: [libDir] });
  // Its exports map ("./*" -> "./*.js") hides package.json from require: read it beside the entry.
  const manifest = path.join(path.dirname(require.resolve('@nestjs/microservices')), 'package.json');
  const { version } = JSON.parse(require('node:fs').readFileSync(manifest, 'utf8'));
  check(`@nestjs/microservices is NestJS 12 (${version}), the same file here and as the library resolves it`, () => {
    assert.match(version, /^12\./);
    assert.equal(fromLib('@nestjs/microservices'), require.resolve('@nestjs/microservices'));
  });

  require('reflect-metadata');
  const { Controller, Module } = require('@nestjs/common');
  const { NestFactory } = require('@nestjs/core');
  const {
    ClientProxyFactory,
    Ctx,
    EventPattern,
    MessagePattern,
    Payload,
    RmqRecordBuilder,
    Transport,
  } = require('@nestjs/microservices');
  const { IdempotencyModule, Idempotent } = require('@nest-idempotency/core');
  const { IdempotencyRpcException } = require('@nest-idempotency/core/microservices');
  const { lastValueFrom } = require('rxjs');
  check('the /microservices entry exports IdempotencyRpcException', () => {
    assert.equal(typeof IdempotencyRpcException, 'function');
  });

  // ---- A consumer that acks by hand, with an idempotent event and request-reply handler ---------------
  const runs = { credit: 0, transfer: 0 };
  class LedgerConsumer {
    credit(_payload, context) {
      runs.credit++;
      context.getChannelRef().ack(context.getMessage());
    }
    transfer(payload, context) {
      runs.transfer++;
      context.getChannelRef().ack(context.getMessage());
      return { transfer: runs.transfer, amount: payload.amount };
    }
  }
  for (const [method, pattern] of [
    ['credit', EventPattern('smoke.credit')],
    ['transfer', MessagePattern('smoke.transfer')],
  ]) {
    Payload()(LedgerConsumer.prototype, method, 0);
    Ctx()(LedgerConsumer.prototype, method, 1);
    Reflect.decorate(
      [pattern, Idempotent()],
      LedgerConsumer.prototype,
      method,
      Object.getOwnPropertyDescriptor(LedgerConsumer.prototype, method),
    );
  }
  Reflect.decorate([Controller()], LedgerConsumer);

  const outcomes = [];
  class AppModule {}
  Reflect.decorate(
    [
      Module({
        imports: [
          IdempotencyModule.forRoot({
            rmq: { noAck: false },
            retryAfter: 100,
            events: (event) => outcomes.push(`${event.route}:${event.outcome}`),
          }),
        ],
        controllers: [LedgerConsumer],
      }),
    ],
    AppModule,
  );

  const queue = `idempotency-smoke-${randomUUID()}`;
  const options = { urls: [RABBITMQ_URL], queue, queueOptions: { durable: false } };
  const app = await NestFactory.createMicroservice(AppModule, {
    transport: Transport.RMQ,
    options: { ...options, noAck: false },
    logger: ['error', 'warn'],
  });
  await app.listen();
  const client = ClientProxyFactory.create({ transport: Transport.RMQ, options });
  await client.connect();
  const record = (payload, messageId) => new RmqRecordBuilder(payload).setOptions({ messageId }).build();
  try {
    for (let i = 0; i < 3; i++)
      await lastValueFrom(client.emit('smoke.credit', record({ amount: 5 }, 'c1')), { defaultValue: undefined });
    await waitFor(
      'three settled credits',
      () => outcomes.filter((o) => /^event smoke\.credit:(executed|replayed)$/.test(o)).length === 3,
    );
    check('an event published three times with one messageId ran once; the copies were replayed', () => {
      assert.equal(runs.credit, 1);
    });

    const first = await lastValueFrom(client.send('smoke.transfer', record({ amount: 7 }, 't1')));
    const again = await lastValueFrom(client.send('smoke.transfer', record({ amount: 7 }, 't1')));
    check('a request sent twice ran once, and the duplicate got the stored reply', () => {
      assert.deepEqual(first, { transfer: 1, amount: 7 });
      assert.deepEqual(again, first);
      assert.equal(runs.transfer, 1);
    });

    let refusal;
    await lastValueFrom(client.send('smoke.transfer', record({ amount: 8 }, 't1'))).catch((error) => (refusal = error));
    check('another payload under the key is refused with { code, message, retryable }, not run', () => {
      assert.equal(refusal && refusal.code, 'IDEMPOTENCY_KEY_MISMATCH', JSON.stringify(refusal));
      assert.equal(refusal.retryable, false);
      assert.equal(runs.transfer, 1);
    });
  } finally {
    await client.close();
    await app.close();
  }

  // Every message was settled once: an unacknowledged one would be back in the queue now its consumer is gone.
  const amqp = require('amqplib');
  const connection = await amqp.connect(RABBITMQ_URL);
  try {
    const channel = await connection.createChannel();
    const { messageCount } = await channel.checkQueue(queue);
    check('no message left in the queue once the consumer stopped', () => assert.equal(messageCount, 0));
    await channel.deleteQueue(queue);
  } finally {
    await connection.close();
  }
}

run().then(finish, (error) => {
  failed++;
  console.log(`FAIL - unexpected error: ${(error && error.stack) || error}`);
  finish();
});
