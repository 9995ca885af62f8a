import { INestMicroservice } from '@nestjs/common';
import { ClientProxy, ClientProxyFactory, NatsRecordBuilder, Transport } from '@nestjs/microservices';
import { natsHeaders } from '../support/nats-headers';
import { randomUUID } from 'node:crypto';
import { lastValueFrom } from 'rxjs';
import { describeWithServices, TEST_SERVICES } from '../support/services';
import { compileLedger, Recorder, waitFor, waitForConsumer } from './broker-test-support';
import { Credit, LedgerController } from './ledger.controller';

const CREDIT = 'event ledger.credit';
const CREDIT_WAITING = 'event ledger.credit-waiting';

const credit = (overrides: Partial<Credit> = {}): Credit => ({
  ref: randomUUID(),
  account: `acct-${randomUUID()}`,
  amount: 10,
  ...overrides,
});

describeWithServices(['nats'], '@Idempotent() message handlers on NATS', () => {
  const recorder = new Recorder();
  // One queue group per run, so consumers of other runs on the same server never take these messages.
  const queue = `idempotency-nats-${randomUUID()}`;
  let app: INestMicroservice;
  let client: ClientProxy;
  let ledger: LedgerController;

  /** The message as a NATS producer sends it: the key in the Idempotency-Key header, or none (`null`). */
  const record = (message: Credit, key: string | null) => {
    const builder = new NatsRecordBuilder(message);
    if (key !== null) {
      const headers = natsHeaders();
      headers.set('Idempotency-Key', key);
      builder.setHeaders(headers);
    }
    return builder.build();
  };
  const emit = (pattern: string, message: Credit, key: string | null = message.ref) =>
    lastValueFrom(client.emit(pattern, record(message, key)), { defaultValue: undefined });
  const send = (pattern: string, message: Credit, key: string | null = message.ref): Promise<any> =>
    lastValueFrom(client.send(pattern, record(message, key)));

  beforeAll(async () => {
    const moduleRef = await compileLedger(recorder);
    app = moduleRef.createNestMicroservice({
      transport: Transport.NATS,
      options: { servers: [TEST_SERVICES.nats], queue },
      logger: false,
    });
    app.useLogger(recorder.logger);
    await app.listen();
    ledger = app.get(LedgerController);
    client = ClientProxyFactory.create({ transport: Transport.NATS, options: { servers: [TEST_SERVICES.nats] } });
    await client.connect();
    await waitForConsumer(() => send('ledger.transfer', credit()));
  }, 20_000);
  afterAll(async () => {
    await client?.close();
    await app?.close();
  });
  beforeEach(() => recorder.clear());

  it('the same event published five times changes state once', async () => {
    const message = credit();
    for (let i = 0; i < 5; i++) await emit('ledger.credit', message);
    // Publishing returns before the consumer is done: a copy that lands while the first still runs is a conflict.
    await waitFor('five answered copies', () => recorder.count(CREDIT, 'executed', 'replayed', 'conflict') === 5);
    expect(recorder.count(CREDIT, 'executed')).toBe(1);
    expect(ledger.runsOf(message.ref)).toBe(1);
    expect(ledger.balances.get(message.account)).toBe(10);
  });

  it("keeps the scope option's key spaces apart, and warns of no missing principal", async () => {
    const route = 'event ledger.credit-per-account';
    const key = randomUUID();
    const first = credit({ ref: `${key}-a` });
    const second = credit({ ref: `${key}-b` });
    await emit('ledger.credit-per-account', first, key);
    await recorder.settled(route, 1);
    await emit('ledger.credit-per-account', second, key);
    await recorder.settled(route, 2);
    await emit('ledger.credit-per-account', first, key);
    await recorder.settled(route, 3);
    expect([ledger.runsOf(first.ref), ledger.runsOf(second.ref)]).toEqual([1, 1]);
    expect(recorder.events.filter((event) => event.route === route).map((event) => event.scope)).toEqual([
      first.account,
      second.account,
      first.account,
    ]);
    expect(recorder.warnings).toEqual([]);
  });

  it('request-reply sent five times runs once, and every duplicate gets the stored reply', async () => {
    const message = credit();
    const replies = [];
    for (let i = 0; i < 5; i++) replies.push(await send('ledger.transfer', message));
    expect(ledger.runsOf(message.ref)).toBe(1);
    expect(replies[0]).toEqual({ transferId: expect.any(String), account: message.account, balance: 10 });
    for (const reply of replies) expect(reply).toEqual(replies[0]);
  });

  it('reads the header whatever its case, and refuses it sent twice', async () => {
    const message = credit();
    const lower = natsHeaders();
    lower.set('idempotency-key', message.ref);
    const first = await lastValueFrom(
      client.send('ledger.transfer', new NatsRecordBuilder(message).setHeaders(lower).build()),
    );
    expect(await send('ledger.transfer', message)).toEqual(first);
    const twice = natsHeaders();
    twice.append('Idempotency-Key', message.ref);
    twice.append('Idempotency-Key', 'another');
    await expect(
      lastValueFrom(client.send('ledger.transfer', new NatsRecordBuilder(message).setHeaders(twice).build())),
    ).rejects.toMatchObject({ code: 'IDEMPOTENCY_KEY_INVALID', retryable: false });
    expect(ledger.runsOf(message.ref)).toBe(1);
  });

  it('refuses another payload under a used key, never runs it, and reports it', async () => {
    const event = credit();
    await emit('ledger.credit', event);
    await recorder.settled(CREDIT, 1);
    await emit('ledger.credit', { ...event, amount: 99 });
    await waitFor('the mismatch', () => recorder.count(CREDIT, 'mismatch') === 1);
    expect(recorder.warnings.join('\n')).toContain(
      `${CREDIT}: message refused, the handler did not run (IDEMPOTENCY_KEY_MISMATCH)`,
    );
    expect(ledger.runsOf(event.ref)).toBe(1);
    expect(ledger.balances.get(event.account)).toBe(10);

    const request = credit();
    await send('ledger.transfer', request);
    await expect(send('ledger.transfer', { ...request, amount: 99 })).rejects.toEqual({
      code: 'IDEMPOTENCY_KEY_MISMATCH',
      message: expect.stringContaining('already used for a different request'),
      retryable: false,
    });
    expect(ledger.runsOf(request.ref)).toBe(1);
  });

  it('refuses a message without the header: never run, the sender told IDEMPOTENCY_KEY_MISSING', async () => {
    const request = credit();
    await expect(send('ledger.transfer', request, null)).rejects.toMatchObject({
      code: 'IDEMPOTENCY_KEY_MISSING',
      message: 'The Idempotency-Key header is required.',
      retryable: false,
    });
    expect(ledger.runsOf(request.ref)).toBe(0);
  });

  it('events published at once run once; with onConflict wait every copy is answered', async () => {
    const message = credit({ delayMs: 300 });
    await Promise.all(Array.from({ length: 5 }, () => emit('ledger.credit-waiting', message)));
    await recorder.settled(CREDIT_WAITING, 5);
    expect(ledger.runsOf(message.ref)).toBe(1);
    expect(ledger.balances.get(message.account)).toBe(10);
  });

  it('events published at once without a wait: one run, the copies dropped with a warning', async () => {
    const message = credit({ delayMs: 300 });
    await Promise.all(Array.from({ length: 5 }, () => emit('ledger.credit', message)));
    await waitFor(
      'one run and four conflicts',
      () => recorder.count(CREDIT, 'executed') === 1 && recorder.count(CREDIT, 'conflict') === 4,
    );
    expect(ledger.runsOf(message.ref)).toBe(1);
    expect(recorder.warnings.join('\n')).toContain('event dropped (IDEMPOTENCY_IN_PROGRESS)');
  });

  it('request-reply sent at once: one run; the others are told to retry, and the retry gets the reply', async () => {
    const message = credit({ delayMs: 300 });
    const answers = await Promise.allSettled(Array.from({ length: 5 }, () => send('ledger.transfer', message)));
    const replies = answers.filter((answer) => answer.status === 'fulfilled').map((answer) => answer.value);
    const refused = answers.filter((answer) => answer.status === 'rejected').map((answer) => answer.reason);
    expect(replies).toHaveLength(1);
    expect(refused).toEqual(
      Array(4).fill(expect.objectContaining({ code: 'IDEMPOTENCY_IN_PROGRESS', retryable: true })),
    );
    expect(await send('ledger.transfer', message)).toEqual(replies[0]);
    expect(ledger.runsOf(message.ref)).toBe(1);
  });

  it('a failed run releases the key: the message sent again runs again, once', async () => {
    const message = credit({ failTimes: 1 });
    await expect(send('ledger.transfer', message)).rejects.toBeDefined();
    expect(recorder.count('message ledger.transfer', 'released')).toBe(1);
    const reply = await send('ledger.transfer', message);
    expect(reply).toMatchObject({ balance: 10 });
    expect(await send('ledger.transfer', message)).toEqual(reply);
    expect(ledger.runsOf(message.ref)).toBe(2);
  });
});
