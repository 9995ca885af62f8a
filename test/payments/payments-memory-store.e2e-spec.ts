import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { CustomersService } from '../../apps/payments/src/customers/customers.service';
import { apiClient, createSqliteFile, PaymentsApp, startPaymentsApp } from './payments-harness';

/** Polls `condition` every 10 ms for at most `timeoutMs`. */
async function waitFor(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await sleep(10);
  }
}

describe('payments app on the memory store: one merchant cannot evict another', () => {
  const file = createSqliteFile();
  let payments: PaymentsApp & Required<Pick<PaymentsApp, 'app'>>;
  // Called on the way out as well, so a failed assertion never leaves a request (and the server's close) hanging.
  let releaseHeld = () => {};
  beforeAll(async () => {
    // Small bounds, so a flood of a hundred requests does what 100k did with the defaults.
    payments = await startPaymentsApp({
      DATABASE_URL: file.url,
      IDEMPOTENCY_STORE: 'memory',
      IDEMPOTENCY_MEMORY_MAX_RECORDS: '60',
      IDEMPOTENCY_MEMORY_MAX_RECORDS_PER_SCOPE: '30',
    });
  });
  afterAll(async () => {
    releaseHeld();
    await payments?.close();
    file.remove();
  });

  it("merchant A's flood of stored 404s evicts only A's records: B's completed replays, B's in-flight runs once", async () => {
    const merchantA = apiClient(payments.url, 'm1');
    const merchantB = apiClient(payments.url, 'm2');
    const paidKey = randomUUID();
    const created = await merchantB.post('/customers', { name: 'Bea', balance: 500 }, paidKey);
    expect(created.status).toBe(201);

    // B's second creation is held inside its handler (the rest of the app is the real one) until released.
    const customers = payments.app.get(CustomersService, { strict: false });
    const create = customers.create.bind(customers);
    const held = new Promise<void>((resolve) => (releaseHeld = resolve));
    let heldRuns = 0;
    vi.spyOn(customers, 'create').mockImplementation(async (merchantId, dto, requestKey) => {
      if (dto.name === 'Held' && heldRuns++ === 0) await held;
      return create(merchantId, dto, requestKey);
    });
    const heldKey = randomUUID();
    const heldResponse = merchantB.post('/customers', { name: 'Held', balance: 1 }, heldKey).then((res) => res);
    await waitFor(() => heldRuns === 1);

    // A floods with fresh keys for unknown customers: every 404 is a stored record of A's.
    const unknownCustomer = { customerId: randomUUID(), amount: 1, currency: 'EUR', reference: 'flood-0' };
    const firstFloodKey = randomUUID();
    expect((await merchantA.post('/payments', unknownCustomer, firstFloodKey)).status).toBe(404);
    for (let batch = 0; batch < 10; batch++) {
      const statuses = await Promise.all(
        Array.from({ length: 10 }, async (_, i) => {
          const body = { ...unknownCustomer, customerId: randomUUID(), reference: `flood-${batch}-${i}` };
          return (await merchantA.post('/payments', body, randomUUID())).status;
        }),
      );
      expect(statuses).toEqual(Array(10).fill(404));
    }

    // The flood went beyond A's share: A's own oldest record is gone, so its retry runs again.
    const floodRetry = await merchantA.post('/payments', unknownCustomer, firstFloodKey);
    expect(floodRetry.status).toBe(404);
    expect(floodRetry.headers['idempotent-replayed']).toBeUndefined();

    // B's completed creation still replays: same customer, no second one.
    const replay = await merchantB.post('/customers', { name: 'Bea', balance: 500 }, paidKey);
    expect(replay.status).toBe(201);
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(replay.body.id).toBe(created.body.id);

    // B's in-flight creation is still in flight: its retry is a 409, not a second run.
    const retry = await merchantB.post('/customers', { name: 'Held', balance: 1 }, heldKey);
    expect(retry.status).toBe(409);
    releaseHeld();
    const first = await heldResponse;
    expect(first.status).toBe(201);
    const heldReplay = await merchantB.post('/customers', { name: 'Held', balance: 1 }, heldKey);
    expect(heldReplay.status).toBe(201);
    expect(heldReplay.body.id).toBe(first.body.id);
    expect(heldRuns).toBe(1);
  });
});
