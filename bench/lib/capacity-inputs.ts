/*
 * What docs/capacity.md is computed from, kept in two committed files so the doc can be regenerated without a
 * twelve-minute `npm run bench`:
 *
 *   bench/capacity-run.json    Redis CPU per request and app throughput, from the last full run (written by it)
 *   bench/record-sizes.json    bytes per record, plain and encoded, from `bench/record-sizes.ts`
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from './processes';
import type { BenchReport, Summary } from './report';

const RUN_FILE = join(REPO_ROOT, 'bench/capacity-run.json');
const SIZES_FILE = join(REPO_ROOT, 'bench/record-sizes.json');

/** The figures of a full run that docs/capacity.md uses. */
export interface CapacityRun {
  date: string;
  cores: number;
  cpuModel: string;
  /** Redis CPU per new key on the trivial route (acquire + complete). */
  redisCpuUsPerRequest: number;
  /** The same on the payments route; null when the run did not measure it. */
  paymentsRedisCpuUsPerRequest: number | null;
  /** Guarded requests per second of one app process on the trivial route, and its app CPU per request. */
  appRps: number;
  appCpuUsPerRequest: number;
  /** All-in bytes per record the run measured on records its apps wrote (a cross-check of record-sizes.json). */
  benchRecordAllIn: number;
  paymentRecordAllIn: number | null;
}

/** One record's figures in Redis, as the bench measures them. */
export interface RecordFootprint {
  /** What the store kept as the response: the JSON, or the encoded form. */
  storedBytes: number;
  /** STRLEN of the Redis value: state byte, fingerprint and the stored response. */
  valueBytes: number;
  /** Median `MEMORY USAGE` over a sample of records. */
  memoryUsage: number;
  /** Growth of `used_memory` per record added: the key, the value, the expiry entry, the hash tables' share. */
  allIn: number;
}

/** One sample response, written plain, compressed, and compressed then encrypted. */
export interface RecordSizeRow {
  name: string;
  /** UTF-8 bytes of the serialised response. */
  jsonBytes: number;
  keyBytes: number;
  plain: RecordFootprint;
  compressed: RecordFootprint;
  encrypted: RecordFootprint;
  /** Stored bytes of the response sealed without compression (`compression: false` with `encryption`). */
  encryptedUncompressedBytes: number;
  /** Median µs to encode (compress; compress and seal) and to decode, in the measuring process. */
  encodeUs: { compressed: number; encrypted: number };
  decodeUs: { compressed: number; encrypted: number };
}

/** What `bench/record-sizes.ts` measured. */
export interface RecordSizes {
  date: string;
  redis: string;
  allocator: string;
  node: string;
  recordsPerSample: number;
  threshold: number;
  rows: RecordSizeRow[];
}

/** The capacity figures of a full run. */
export function capacityRunOf(report: BenchReport, summary: Summary): CapacityRun | undefined {
  const ours = summary.byId.get('redis');
  const payments = summary.byId.get('payments-redis');
  if (!ours || ours.redisBytesPerKey === null || ours.redisCpuUsPerRequest === null) return undefined;
  return {
    date: report.date.slice(0, 10),
    cores: report.machine.cores,
    cpuModel: report.machine.cpuModel,
    redisCpuUsPerRequest: ours.redisCpuUsPerRequest,
    paymentsRedisCpuUsPerRequest: payments?.redisCpuUsPerRequest ?? null,
    appRps: ours.rps,
    appCpuUsPerRequest: ours.appCpuUsPerRequest,
    benchRecordAllIn: ours.redisBytesPerKey,
    paymentRecordAllIn: payments?.redisBytesPerKey ?? null,
  };
}

export function saveCapacityRun(run: CapacityRun): void {
  writeFileSync(RUN_FILE, `${JSON.stringify(run, null, 2)}\n`);
}

export function readCapacityRun(): CapacityRun | undefined {
  return existsSync(RUN_FILE) ? (JSON.parse(readFileSync(RUN_FILE, 'utf8')) as CapacityRun) : undefined;
}

export function saveRecordSizes(sizes: RecordSizes): void {
  writeFileSync(SIZES_FILE, `${JSON.stringify(sizes, null, 2)}\n`);
}

export function readRecordSizes(): RecordSizes | undefined {
  return existsSync(SIZES_FILE) ? (JSON.parse(readFileSync(SIZES_FILE, 'utf8')) as RecordSizes) : undefined;
}
