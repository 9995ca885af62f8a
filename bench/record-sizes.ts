/*
 * Bytes per record in Redis for the stored responses docs/capacity.md plans with, written plain, compressed, and
 * compressed then encrypted, measured as the full bench measures them; then docs/capacity.md regenerated from them
 * (and from bench/capacity-run.json, the last full run's CPU figures). Not part of `npm run bench`:
 *
 *   npx ts-node -r tsconfig-paths/register --transpile-only bench/record-sizes.ts
 *
 * It starts a redis-server of its own on a free loopback port (bench/lib/processes.ts), empties it before each
 * measurement (nothing else uses it), and stops it at the end. Per sample and form: RECORDS records written through
 * RedisIdempotencyStore (acquire, then complete with the encoded response), the growth of `used_memory` per record
 * ("all-in": key, value, expiry entry, hash tables), the median `MEMORY USAGE` and STRLEN of 200 of them.
 */
import { createHash, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Redis from 'ioredis';
import { ResponseCodec } from '@nest-idempotency/core/core/response-codec';
import { IDEMPOTENCY_DEFAULT_COMPRESSION_THRESHOLD_BYTES } from '@nest-idempotency/core/options/idempotency.constants';
import { RedisIdempotencyStore } from '@nest-idempotency/core/redis';
import { IdempotencyRecordId } from '@nest-idempotency/core';
import { readCapacityRun, RecordFootprint, RecordSizeRow, saveRecordSizes } from './lib/capacity-inputs';
import { renderCapacity } from './lib/capacity-report';
import { REPO_ROOT, startRedisServer, stopAll } from './lib/processes';
import { benchRecord, listRecord, paymentRecord, resourceRecord } from './lib/sample-responses';
import { median, microsecondsPerCall } from './lib/stats';

/** Records per measurement: enough that the hash tables' growth is spread over them as over a full server's keys. */
const RECORDS = 16_000;
const CONCURRENCY = 64;
const SAMPLES: Array<{ name: string; json: (n: number) => string }> = [
  { name: 'the bench record', json: benchRecord },
  { name: 'a payment', json: paymentRecord },
  { name: 'a resource (~1.5 KB)', json: (n) => resourceRecord(n) },
  { name: 'a list (~8 KB)', json: listRecord },
];

const runId = randomBytes(4).toString('hex');
/** Ids shaped as the bench's: the default namespace, no scope, a 20-character key. */
const idOf = (n: number): IdempotencyRecordId => ({ namespace: 'idempotency', scope: '', key: `${runId}-o${n}` });
const fingerprintOf = (n: number) => createHash('sha256').update(String(n)).digest('hex');

async function usedMemory(redis: Redis): Promise<number> {
  const info = await redis.info('memory');
  return Number(/used_memory:(\d+)/.exec(info)![1]);
}

async function footprint(redis: Redis, store: RedisIdempotencyStore, encode: (n: number) => string) {
  await redis.flushall();
  const before = await usedMemory(redis);
  let storedBytes = 0;
  for (let start = 0; start < RECORDS; start += CONCURRENCY) {
    await Promise.all(
      Array.from({ length: Math.min(CONCURRENCY, RECORDS - start) }, async (_, offset) => {
        const n = start + offset;
        const request = { fingerprint: fingerprintOf(n), token: `t${n}`, leaseMs: 30_000, ttlMs: 86_400_000 };
        await store.acquire(idOf(n), request);
        const stored = encode(n);
        if (n === 1) storedBytes = Buffer.byteLength(stored);
        if (!(await store.complete(idOf(n), request.token, stored, 86_400_000))) throw new Error(`record ${n} lost`);
      }),
    );
  }
  const allIn = ((await usedMemory(redis)) - before) / RECORDS;
  const usage: number[] = [];
  const values: number[] = [];
  let keyBytes = 0;
  for (let n = 0; n < RECORDS; n += RECORDS / 200) {
    const key = (store as unknown as { recordKey(id: IdempotencyRecordId): string }).recordKey(idOf(n));
    keyBytes = Buffer.byteLength(key);
    usage.push(Number(await redis.memory('USAGE', key, 'SAMPLES', 0)));
    values.push(await redis.strlen(key));
  }
  const row: RecordFootprint = {
    storedBytes,
    valueBytes: median(values)!,
    memoryUsage: median(usage)!,
    allIn: Math.round(allIn),
  };
  return { row, keyBytes };
}

async function main(): Promise<void> {
  const { url } = await startRedisServer();
  const redis = new Redis(url);
  const store = new RedisIdempotencyStore(url);
  const plain = new ResponseCodec(false);
  const compressing = new ResponseCodec({});
  const keys = { k1: randomBytes(32) };
  const sealing = new ResponseCodec({}, { keys, current: 'k1' });
  const sealingUncompressed = new ResponseCodec(false, { keys, current: 'k1' });
  try {
    const rows: RecordSizeRow[] = [];
    for (const sample of SAMPLES) {
      const measured = {
        plain: await footprint(redis, store, (n) => plain.encode(sample.json(n), idOf(n))),
        compressed: await footprint(redis, store, (n) => compressing.encode(sample.json(n), idOf(n))),
        encrypted: await footprint(redis, store, (n) => sealing.encode(sample.json(n), idOf(n))),
      };
      const json = sample.json(1);
      const id = idOf(1);
      const compressedForm = compressing.encode(json, id);
      const sealedForm = sealing.encode(json, id);
      rows.push({
        name: sample.name,
        jsonBytes: Buffer.byteLength(json),
        keyBytes: measured.plain.keyBytes,
        plain: measured.plain.row,
        compressed: measured.compressed.row,
        encrypted: measured.encrypted.row,
        encryptedUncompressedBytes: sealingUncompressed.encode(json, id).length,
        encodeUs: {
          compressed: microsecondsPerCall(() => compressing.encode(json, id)),
          encrypted: microsecondsPerCall(() => sealing.encode(json, id)),
        },
        decodeUs: {
          compressed: microsecondsPerCall(() => compressing.decode(compressedForm, id, 1 << 20)),
          encrypted: microsecondsPerCall(() => sealing.decode(sealedForm, id, 1 << 20)),
        },
      });
      console.log(JSON.stringify(rows.at(-1)));
    }
    const server = await redis.info('server');
    const memory = await redis.info('memory');
    const sizes = {
      date: new Date().toISOString().slice(0, 10),
      redis: /redis_version:(\S+)/.exec(server)![1],
      allocator: /mem_allocator:(\S+)/.exec(memory)![1],
      node: process.version,
      recordsPerSample: RECORDS,
      threshold: IDEMPOTENCY_DEFAULT_COMPRESSION_THRESHOLD_BYTES,
      rows,
    };
    saveRecordSizes(sizes);
    const run = readCapacityRun();
    if (!run) throw new Error('bench/capacity-run.json is missing: run `npm run bench` once');
    writeFileSync(join(REPO_ROOT, 'docs/capacity.md'), renderCapacity(run, sizes));
    console.log('wrote bench/record-sizes.json and docs/capacity.md');
  } finally {
    await store.close();
    redis.disconnect();
    await stopAll();
  }
}

main().catch(async (error: unknown) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
  await stopAll();
  process.exit(1);
});
