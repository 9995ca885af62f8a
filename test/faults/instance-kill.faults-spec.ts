import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { PaymentsProcess, createPostgresDatabase } from '../payments/payments-harness';
import { RedisServerProcess, startRedisServer } from '../support/redis-server';
import { describeWithServices } from '../support/services';
import { TcpProxy } from '../support/tcp-proxy';
import { Attempt, HttpAnswer, Operation, postJson, RetryingClient } from './fault-client';
import { checkLedger, describeAttempts, LogicalPayment, readLedger } from './ledger';
import { API_KEY, appOutputs, closeApps, createCustomers, isAlive, outcomes, spawnApp, summary } from './fault-support';

const LEASE_SECONDS = 2;
const BURST = 30;

/** How one key of a burst fared: the killed instance's answer (if any), then the survivor's. */
interface KeyFate {
  index: number;
  payment: LogicalPayment;
  onVictim: Attempt;
  onSurvivor: Operation;
}

/**
 * Killed instance: PostgreSQL + the Redis store, a burst of payments on one instance, that instance
 * SIGKILLed while they are in flight, and every one of them retried (same key, same body) on the survivor once
 * the lease (2 s) has run out. Two rounds:
 * - "blind": the kill lands wherever the burst happens to be when the third answer arrives;
 * - "window": the victim reaches Redis through a proxy that passes its first four completions and then holds
 *   everything it sends, so the requests that commit from then on are frozen exactly between the business
 *   commit and the completion of their idempotency record — the window of docs/protocol.md §10 — when the kill comes.
 */
describeWithServices(['postgres'], 'fault: an app instance SIGKILLed mid-request (PostgreSQL + Redis store)', () => {
  let redis: RedisServerProcess | undefined;
  let proxy: TcpProxy | undefined;
  let database: { url: string; drop: () => Promise<void> } | undefined;
  let survivor: PaymentsProcess | undefined;
  const apps: PaymentsProcess[] = [];
  let startBalances: Map<string, number>;
  const all: LogicalPayment[] = [];

  beforeAll(async () => {
    redis = await startRedisServer();
    proxy = new TcpProxy({ host: redis.host, port: redis.port });
    await proxy.start();
    database = await createPostgresDatabase();
    const env = {
      DATABASE_URL: database.url,
      IDEMPOTENCY_STORE: 'redis',
      REDIS_URL: redis.url,
      IDEMPOTENCY_LOCK_TIMEOUT_SECONDS: String(LEASE_SECONDS),
    };
    survivor = await spawnApp(env);
    apps.push(survivor);
    startBalances = await createCustomers(survivor.url, [1_000_000, 1_000_000]);
  }, 90_000);

  afterAll(async () => {
    await closeApps(apps);
    await Promise.allSettled([proxy?.close(), redis?.dispose(), database?.drop()]);
  }, 60_000);

  /** Fires the burst at a fresh victim, SIGKILLs it once `armKill` resolves, then retries every key on the survivor. */
  async function round(
    name: string,
    victimEnv: Record<string, string>,
    armKill: (victim: PaymentsProcess, answered: () => number) => Promise<string>,
  ): Promise<{ fates: KeyFate[]; killedAt: string; victim: PaymentsProcess }> {
    const victim = await spawnApp({
      DATABASE_URL: database!.url,
      IDEMPOTENCY_STORE: 'redis',
      IDEMPOTENCY_LOCK_TIMEOUT_SECONDS: String(LEASE_SECONDS),
      ...victimEnv,
    });
    apps.push(victim);
    const customers = [...startBalances.keys()];
    const runId = `kill-${name}-${randomUUID().slice(0, 8)}`;
    const bodies = Array.from({ length: BURST }, (_, i) => ({
      key: randomUUID(),
      body: {
        customerId: customers[i % customers.length],
        amount: 100 + i,
        currency: 'EUR',
        reference: `${runId}-${i}`,
      },
    }));

    let answered = 0;
    const exited = new Promise<void>((resolve) => victim.child.once('exit', () => resolve()));
    const burst = bodies.map(async ({ key, body }) => {
      const attempt: Attempt = { instance: 0, sentAt: Date.now(), answeredAt: 0, status: 0 };
      let answer: HttpAnswer | undefined;
      try {
        answer = await postJson(
          victim.url,
          '/payments',
          body,
          { authorization: `Bearer ${API_KEY}`, 'idempotency-key': key },
          15_000,
        );
        attempt.status = answer.status;
        attempt.replayed = answer.headers['idempotent-replayed'] === 'true';
        answered++;
      } catch (error) {
        attempt.error = error instanceof Error ? error.message : String(error);
      }
      attempt.answeredAt = Date.now();
      return { attempt, answer };
    });
    const killedAt = await armKill(victim, () => answered);
    victim.child.kill('SIGKILL');
    await exited;
    const killTime = Date.now();
    const onVictim = await Promise.all(burst);

    // Every lease the victim took is over once LEASE_SECONDS have passed since it died.
    await sleep(LEASE_SECONDS * 1000 + 500 - (Date.now() - killTime));
    const client = new RetryingClient(API_KEY, { maxAttempts: 40, deadlineMs: 30_000, requestTimeoutMs: 10_000 });
    const onSurvivor = await Promise.all(
      bodies.map(({ key, body }) => client.send([survivor!.url], '/payments', body, { key })),
    );

    const fates = bodies.map(({ body }, index): KeyFate => {
      const victimAttempt = onVictim[index].attempt;
      const survivorOp = onSurvivor[index];
      const victimAnswer = onVictim[index].answer;
      let payment: LogicalPayment;
      if (victimAnswer && victimAttempt.status === 201) {
        // The client saw it succeed; what the survivor says is a re-send.
        const first: Operation = {
          key: survivorOp.key,
          path: '/payments',
          body,
          attempts: [victimAttempt],
          final: 'succeeded',
          answer: victimAnswer.body,
        };
        payment = {
          customerId: body.customerId,
          amount: body.amount,
          reference: body.reference,
          first,
          resends: [survivorOp],
        };
      } else {
        // One logical payment: the attempt the kill cut short, then the survivor's.
        const first: Operation = { ...survivorOp, attempts: [victimAttempt, ...survivorOp.attempts] };
        payment = { customerId: body.customerId, amount: body.amount, reference: body.reference, first, resends: [] };
      }
      all.push(payment);
      return { index, payment, onVictim: victimAttempt, onSurvivor: survivorOp };
    });
    return { fates, killedAt, victim };
  }

  function describeFates(fates: KeyFate[]) {
    const sawSuccess = fates.filter((f) => f.onVictim.status === 201);
    const cut = fates.filter((f) => f.onVictim.status !== 201);
    const count = (list: KeyFate[], test: (f: KeyFate) => boolean) => list.filter(test).length;
    return {
      sawSuccess: sawSuccess.length,
      replayedToThem: count(sawSuccess, (f) => f.onSurvivor.final === 'succeeded' && f.onSurvivor.replayed === true),
      cut: cut.length,
      cutFresh: count(cut, (f) => f.onSurvivor.final === 'succeeded' && !f.onSurvivor.replayed),
      cutReplayed: count(cut, (f) => f.onSurvivor.final === 'succeeded' && f.onSurvivor.replayed === true),
      cutReferenceConflict: count(cut, (f) => f.onSurvivor.final === 'reference_conflict'),
      survivorRequests: fates.reduce((sum, f) => sum + f.onSurvivor.attempts.length, 0),
      survivorInFlight409: fates.reduce((sum, f) => sum + f.onSurvivor.attempts.filter((a) => a.inFlight).length, 0),
      indefinite: fates
        .filter((f) => !['succeeded', 'reference_conflict'].includes(f.onSurvivor.final))
        .map((f) => `${f.index}: ${describeAttempts(f.onSurvivor)}`),
    };
  }

  it('blind kill: every key gets a definite answer on the survivor, none is debited twice', async () => {
    const { fates, killedAt, victim } = await round('blind', { REDIS_URL: redis!.url }, async (_victim, answered) => {
      const deadline = Date.now() + 15_000;
      while (answered() < 3 && Date.now() < deadline) await sleep(1);
      return `after ${answered()} of ${BURST} answers`;
    });
    const figures = describeFates(fates);
    console.log(
      summary('Instance SIGKILLed mid-request — blind round', [`killed ${killedAt}`, JSON.stringify(figures)]),
    );
    if (figures.indefinite.length > 0) console.log(appOutputs([survivor!, victim]));
    expect(isAlive(survivor!)).toBe(true);
    expect(figures.indefinite).toEqual([]);
    // The kill came while requests were in flight, not after the burst was over.
    expect(figures.cut).toBeGreaterThan(0);
    // What the client saw succeed is given back (replayed, or found again by its reference); nothing is a 409.
    expect(figures.cutReferenceConflict).toBe(0);
    expect(
      fates
        .filter((f) => f.onVictim.status === 201 && f.onSurvivor.final === 'succeeded')
        .every((f) => f.onSurvivor.answer.id === f.payment.first.answer.id),
    ).toBe(true);
    expect(fates.flatMap((f) => f.onSurvivor.attempts).filter((a) => a.status >= 500)).toEqual([]);
  });

  it('kill between the business commit and the completion: the retry gets the original payment (201), charged once', async () => {
    const proxied = proxy!;
    let completions = 0;
    const { fates, killedAt, victim } = await round(
      'window',
      { REDIS_URL: `redis://127.0.0.1:${proxied.port}` },
      async () => {
        // Only completions carry the stored response, hence the payment's reference.
        const held = proxied.holdFrom((chunk) => chunk.includes('"reference":"kill-window-') && ++completions > 4);
        const outcome = await Promise.race([held.then(() => 'held'), sleep(15_000, 'timeout', { ref: false })]);
        // Long enough for more requests to commit and stall on their completion, well short of the store's 1 s
        // command timeout (after which the victim would send the 201 although nothing was recorded).
        await sleep(150);
        return `${outcome === 'held' ? '150 ms after the first held completion' : 'without a held completion (timeout)'}`;
      },
    );
    const heldReferences = new Set(
      [...proxied.heldText().matchAll(/"reference":"(kill-window-[0-9a-f]+-\d+)"/g)].map((m) => m[1]),
    );
    const held = fates.filter((f) => heldReferences.has(f.payment.reference));
    const figures = describeFates(fates);
    console.log(
      summary('Instance SIGKILLed mid-request — window round', [
        `killed ${killedAt}; completions held at the proxy: ${held.length} (${held.map((f) => f.index).join(',')})`,
        `survivor's answers to the held ones: ${JSON.stringify(outcomes(held.map((f) => f.onSurvivor)))}`,
        JSON.stringify(figures),
      ]),
    );
    if (figures.indefinite.length > 0) console.log(appOutputs([survivor!, victim]));
    expect(isAlive(survivor!)).toBe(true);
    expect(figures.indefinite).toEqual([]);
    expect(held.length).toBeGreaterThan(0);
    // Committed, never completed: the survivor takes the lease over, runs the handler again, finds the payment
    // by its UNIQUE reference with the same parameters, and answers with it — charged once (the ledger test
    // below), and the client gets its payment back, not a replay but the row as it was created.
    expect(held.map((f) => `${f.index}:${f.onVictim.status}:${f.onSurvivor.final}`)).toEqual(
      held.map((f) => `${f.index}:0:succeeded`),
    );
    expect(
      held.every(
        (f) => f.onSurvivor.answer.reference === f.payment.reference && f.onSurvivor.answer.status === 'succeeded',
      ),
    ).toBe(true);
    expect(figures.cutReferenceConflict).toBe(0);
    expect(fates.flatMap((f) => f.onSurvivor.attempts).filter((a) => a.status >= 500)).toEqual([]);
  });

  it('the database shows no payment debited twice and every debit accounted for', async () => {
    const ledger = await readLedger(database!.url);
    const report = checkLedger(ledger, startBalances, all, []);
    console.log(
      summary(
        'Instance SIGKILLed mid-request — ledger',
        [`logical payments ${all.length}, payment rows ${ledger.payments.length}`],
        report,
      ),
    );
    expect(all.length).toBe(2 * BURST);
    expect(report.violations).toEqual([]);
  });
});
