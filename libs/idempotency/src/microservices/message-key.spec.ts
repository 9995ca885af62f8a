import { ExecutionContext } from '@nestjs/common';
import { NatsContext, RmqContext, TcpContext } from '@nestjs/microservices';
import { natsHeaders } from '../../../../test/support/nats-headers';
import { resolveIdempotencyOptions } from '../options/idempotency-options';
import { IdempotentRouteOptions } from '../options/idempotency-options.interface';
import { readMessageKey } from './message-key';

const context = {} as ExecutionContext;
const read = async (rpcContext: unknown, options: IdempotentRouteOptions = {}) =>
  (await readMessageKey(context, rpcContext, resolveIdempotencyOptions(options))).parsed;
const rmq = (properties: Record<string, unknown>) => new RmqContext([{ properties, fields: {} }, {}, 'orders']);
const nats = (entries: Array<[string, string]>) => {
  const headers = natsHeaders();
  for (const [name, value] of entries) headers.append(name, value);
  return new NatsContext(['orders', headers]);
};

describe('readMessageKey', () => {
  it("reads RabbitMQ's messageId first, then the header in any case", async () => {
    expect(await read(rmq({ messageId: 'm-1', headers: { 'Idempotency-Key': 'h-1' } }))).toEqual({
      status: 'valid',
      key: 'm-1',
    });
    expect(await read(rmq({ headers: { 'idempotency-key': 'h-1' } }))).toEqual({ status: 'valid', key: 'h-1' });
    expect(await read(rmq({ headers: { 'X-Key': 'h-2' } }), { headerName: 'x-key' })).toEqual({
      status: 'valid',
      key: 'h-2',
    });
    expect(await read(rmq({ headers: { 'idempotency-key': Buffer.from('h-3') } }))).toEqual({
      status: 'valid',
      key: 'h-3',
    });
    expect(await read(rmq({}))).toEqual({ status: 'missing' });
  });

  it('refuses a RabbitMQ key that is not a string or bytes, rather than reading it as text', async () => {
    expect(await read(rmq({ headers: { 'Idempotency-Key': 42 } }))).toEqual({
      status: 'invalid',
      reason: 'the header is a number, not a string',
    });
    expect(await read(rmq({ headers: { 'Idempotency-Key': true } }))).toMatchObject({ status: 'invalid' });
    expect(await read(rmq({ headers: { 'Idempotency-Key': { k: 'v' } } }))).toEqual({
      status: 'invalid',
      reason: 'the header is a object, not a string',
    });
    expect(await read(rmq({ headers: { 'Idempotency-Key': ['a'] } }))).toMatchObject({ status: 'invalid' });
    expect(await read(rmq({ messageId: 7 }))).toMatchObject({ status: 'invalid' });
  });

  it('refuses a RabbitMQ header present under two spellings, and a key that breaks the key rules', async () => {
    expect(await read(rmq({ headers: { 'Idempotency-Key': 'a', 'idempotency-key': 'b' } }))).toEqual({
      status: 'invalid',
      reason: 'the header was sent more than once',
    });
    expect(await read(rmq({ messageId: 'has space' }))).toMatchObject({ status: 'invalid' });
    expect(await read(rmq({ messageId: 'k'.repeat(256) }))).toMatchObject({ status: 'invalid' });
  });

  it('reads the NATS header in any case, once', async () => {
    expect(await read(nats([['Idempotency-Key', 'n-1']]))).toEqual({ status: 'valid', key: 'n-1' });
    expect(await read(nats([['idempotency-key', 'n-2']]))).toEqual({ status: 'valid', key: 'n-2' });
    expect(await read(nats([]))).toEqual({ status: 'missing' });
    expect(await read(new NatsContext(['orders', undefined]))).toEqual({ status: 'missing' });
    expect(
      await read(
        nats([
          ['Idempotency-Key', 'a'],
          ['Idempotency-Key', 'b'],
        ]),
      ),
    ).toMatchObject({ status: 'invalid' });
  });

  it('finds no key on a transport without one, and names the "key" option for it', async () => {
    const key = await readMessageKey(context, new TcpContext([{} as never, 'orders']), resolveIdempotencyOptions({}));
    expect(key.parsed).toEqual({ status: 'missing' });
    expect(key.name).toContain('"key" option');
  });

  it('takes the "key" option over the transport, and refuses what it cannot use', async () => {
    expect(await read(rmq({ messageId: 'm-1' }), { key: () => 'from-option' })).toEqual({
      status: 'valid',
      key: 'from-option',
    });
    expect(await read(rmq({ messageId: 'm-1' }), { key: () => undefined })).toEqual({ status: 'missing' });
    expect(await read(undefined, { key: () => 42 as never })).toEqual({
      status: 'invalid',
      reason: 'the "key" option returned a number, not a string',
    });
    expect(
      await read(undefined, {
        key: () => {
          throw new Error('no payload');
        },
      }),
    ).toEqual({ status: 'invalid', reason: 'the "key" option threw: no payload' });
    expect(await read(undefined, { key: () => Promise.reject(new Error('no ref')) })).toEqual({
      status: 'invalid',
      reason: 'the "key" option threw: no ref',
    });
    expect(await read(undefined, { key: async () => 'async-key' })).toEqual({ status: 'valid', key: 'async-key' });
  });
});
