import { Channel, ChannelModel, connect } from 'amqplib';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { prometheusSamples } from '../support/prometheus-text';
import { describeWithServices, TEST_SERVICES } from '../support/services';
import request from 'supertest';
import { API_KEYS, apiClient, createSqliteFile, PaymentsProcess, spawnPaymentsApp } from './payments-harness';

/** The payments app as deployed with AMQP_URL: `payment.requested` messages from RabbitMQ, keyed by messageId. */
const STORES = [{ IDEMPOTENCY_STORE: 'typeorm' }, { IDEMPOTENCY_STORE: 'redis' }];

/** A merchant the app knows only when a test says so: onboarded while messages for it were under way. */
const LATE_MERCHANT = { id: 'm3', secret: 'sk_test_merchant_three' };

for (const store of STORES) {
  describeWithServices(['rabbitmq', 'redis'], `payments from RabbitMQ (${store.IDEMPOTENCY_STORE} store)`, () => {
    const queue = `payments-test-${randomUUID()}`;
    let database: ReturnType<typeof createSqliteFile>;
    let app: PaymentsProcess;
    let broker: ChannelModel;
    let channel: Channel;
    let api: ReturnType<typeof apiClient>;

    /** (Re)starts the app on the same database, store and queue, knowing the late merchant or not. */
    const start = async (knowsLateMerchant: boolean) => {
      await app?.close();
      app = await spawnPaymentsApp({
        ...store,
        DATABASE_URL: database.url,
        AMQP_URL: TEST_SERVICES.rabbitmq,
        AMQP_QUEUE: queue,
        IDEMPOTENCY_LOCK_TIMEOUT_SECONDS: '5',
        API_KEYS: knowsLateMerchant ? `${API_KEYS},${LATE_MERCHANT.id}:${LATE_MERCHANT.secret}` : API_KEYS,
      });
      api = apiClient(app.url);
    };

    beforeAll(async () => {
      database = createSqliteFile();
      await start(true);
      broker = await connect(TEST_SERVICES.rabbitmq);
      channel = await broker.createChannel();
    }, 90_000);

    afterAll(async () => {
      await app?.close();
      await channel?.deleteQueue(queue).catch(() => undefined);
      await broker?.close();
      database?.remove();
    });

    const publish = (messageId: string, data: object) =>
      channel.sendToQueue(queue, Buffer.from(JSON.stringify({ pattern: 'payment.requested', data })), {
        messageId,
        persistent: true,
        contentType: 'application/json',
      });
    const balanceOf = async (customerId: string) => (await api.get(`/customers/${customerId}`)).body.balance as number;
    /** Waits until the queue holds nothing and nothing is in flight at its consumer, then a little longer. */
    const drained = async () => {
      const deadline = Date.now() + 20_000;
      for (;;) {
        const { messageCount } = await channel.checkQueue(queue);
        if (messageCount === 0) break;
        if (Date.now() > deadline) throw new Error(`queue ${queue} still holds ${messageCount} messages`);
        await sleep(100);
      }
      await sleep(1_500);
      expect((await channel.checkQueue(queue)).messageCount).toBe(0);
    };
    /** The app's count of `payment.requested` messages by idempotency outcome, from its /metrics. */
    const outcomes = async () => {
      const text = (await request(app.url).get('/metrics')).text;
      const counts: Record<string, number> = {};
      for (const { labels, value } of prometheusSamples(text, 'idempotency_requests_total', {
        idempotency_route: 'event payment.requested',
      })) {
        counts[labels.idempotency_outcome] = (counts[labels.idempotency_outcome] ?? 0) + value;
      }
      return counts;
    };
    const since = async (before: Record<string, number>) => {
      const after = await outcomes();
      return Object.fromEntries(
        Object.entries(after)
          .map(([outcome, count]) => [outcome, count - (before[outcome] ?? 0)])
          .filter(([, count]) => count !== 0),
      );
    };
    const payment = (customerId: string, amount = 2_500) => ({
      merchantId: 'm1',
      customerId,
      amount,
      currency: 'EUR',
      reference: `order-${randomUUID()}`,
    });
    /** The same payment as `POST /payments` takes it: the merchant is the API key's. */
    const paymentBody = (customerId: string, amount: number) => {
      const { merchantId: _merchant, ...body } = payment(customerId, amount);
      return body;
    };

    it('charges once for a request published five times at once', async () => {
      const customer = await api.createCustomer(10_000);
      const messageId = randomUUID();
      const request = payment(customer.id);
      const before = await outcomes();
      for (let i = 0; i < 5; i++) publish(messageId, request);
      await drained();
      expect(await balanceOf(customer.id)).toBe(7_500);
      publish(messageId, request);
      await drained();
      expect(await balanceOf(customer.id)).toBe(7_500);
      // Run once; the copies were replayed (acknowledged unrun), after requeues while the first one ran.
      const seen = await since(before);
      expect(seen.executed).toBe(1);
      expect(seen.replayed).toBe(5);
      expect(app.output()).not.toMatch(/ERROR/);
    });

    it('refuses another payment under a used messageId, and never runs it', async () => {
      const customer = await api.createCustomer(10_000);
      const messageId = randomUUID();
      publish(messageId, payment(customer.id, 1_000));
      await drained();
      const before = await outcomes();
      publish(messageId, payment(customer.id, 4_000));
      await drained();
      expect(await balanceOf(customer.id)).toBe(9_000);
      expect(await since(before)).toEqual({ mismatch: 1 });
    });

    it('settles a business refusal once: acknowledged, stored, not retried', async () => {
      const customer = await api.createCustomer(100);
      const messageId = randomUUID();
      const request = payment(customer.id, 5_000);
      const before = await outcomes();
      publish(messageId, request);
      await drained();
      // Redelivered, the refusal is not run again: its outcome is settled.
      publish(messageId, request);
      await drained();
      expect(await balanceOf(customer.id)).toBe(100);
      expect(await since(before)).toEqual({ executed: 1, replayed: 1 });
    });

    it('rejects a message that can never be valid (bad fields, unknown merchant, no messageId)', async () => {
      const customer = await api.createCustomer(10_000);
      publish(randomUUID(), { ...payment(customer.id), currency: 'euro' });
      publish(randomUUID(), { ...payment(customer.id), merchantId: 'nobody' });
      publish(randomUUID(), { ...payment(customer.id), extra: true });
      channel.sendToQueue(
        queue,
        Buffer.from(JSON.stringify({ pattern: 'payment.requested', data: payment(customer.id) })),
      );
      await drained();
      expect(await balanceOf(customer.id)).toBe(10_000);
      // And the consumer still works.
      publish(randomUUID(), payment(customer.id));
      await drained();
      expect(await balanceOf(customer.id)).toBe(7_500);
    });

    it('HTTP keys and message ids of one merchant do not meet: the same id on both sides runs both', async () => {
      const customer = await api.createCustomer(10_000);
      const messageFirst = `shared-${randomUUID()}`;
      publish(messageFirst, payment(customer.id, 1_000));
      await drained();
      const http = await api.post('/payments', paymentBody(customer.id, 2_000), messageFirst);
      expect(http.status).toBe(201);

      const httpFirst = `shared-${randomUUID()}`;
      expect((await api.post('/payments', paymentBody(customer.id, 3_000), httpFirst)).status).toBe(201);
      const before = await outcomes();
      publish(httpFirst, payment(customer.id, 4_000));
      await drained();
      expect(await since(before)).toEqual({ executed: 1 });
      expect(await balanceOf(customer.id)).toBe(0);
    });

    it('a message rejected for an unknown merchant leaves no record: republished once the merchant is known, it runs once', async () => {
      // The merchant and its customer exist (an instance that knows it made them) ...
      const late = request(app.url);
      const auth = { Authorization: `Bearer ${LATE_MERCHANT.secret}` };
      const created = await late
        .post('/customers')
        .set(auth)
        .set('Idempotency-Key', randomUUID())
        .send({ name: 'Late', balance: 10_000 });
      expect(created.status).toBe(201);
      const message = { ...payment(created.body.id, 2_500), merchantId: LATE_MERCHANT.id };
      const messageId = randomUUID();

      // ... but the instance that takes the message does not know it yet: rejected, not charged.
      await start(false);
      let before = await outcomes();
      publish(messageId, message);
      await drained();
      expect(await since(before)).toEqual({ released: 1 });
      expect(app.output()).toContain(`payment request ${messageId} rejected: unknown merchant "m3"`);

      // Once it is known, the same message republished (from the dead-letter queue, say) is charged, once.
      await start(true);
      before = await outcomes();
      publish(messageId, message);
      await drained();
      publish(messageId, message);
      await drained();
      expect(await since(before)).toEqual({ executed: 1, replayed: 1 });
      const balance = await request(app.url).get(`/customers/${created.body.id}`).set(auth);
      expect(balance.body.balance).toBe(7_500);
    }, 120_000);
  });
}
