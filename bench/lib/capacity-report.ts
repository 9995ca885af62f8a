import { CapacityRun, RecordFootprint, RecordSizes } from './capacity-inputs';

const GB = 1e9;
type Form = 'plain' | 'compressed' | 'encrypted';
const FORMS: Form[] = ['plain', 'compressed', 'encrypted'];

const fmtBytes = (bytes: number) =>
  bytes >= 1e12
    ? `${(bytes / 1e12).toFixed(1)} TB`
    : bytes >= 1e9
      ? `${(bytes / 1e9).toFixed(1)} GB`
      : `${(bytes / 1e6).toFixed(0)} MB`;
const fmtCount = (n: number) =>
  n >= 1e9
    ? `${(n / 1e9).toFixed(1)} billion`
    : n >= 1e6
      ? `${(n / 1e6).toFixed(1)} million`
      : n.toLocaleString('en-US');
const int = (n: number) => Math.round(n).toLocaleString('en-US');
const saved = (before: number, after: number) => `${Math.round((1 - after / before) * 100)}%`;

/**
 * docs/capacity.md: memory and Redis Cluster shards from the bytes per record `bench/record-sizes.ts` measured
 * (plain, compressed, compressed then encrypted) and the Redis CPU per request of the last full run.
 */
export function renderCapacity(run: CapacityRun, sizes: RecordSizes | undefined): string {
  if (!sizes || sizes.rows.length < 4) {
    return '# Capacity\n\nNo record sizes measured; run `bench/record-sizes.ts` (see bench/README.md).\n';
  }
  const [bench, payment, resource, list] = sizes.rows;
  // Fixed cost of a record: everything but its stored response, all-in (key, value header, expiry, table share).
  const fixedBytes = Math.round(bench.plain.allIn - bench.jsonBytes);
  // Each size class of the mix is stood for by the measured record closest to it.
  const distribution = [
    { share: 0.6, bytes: 300, what: 'acknowledgements and small creates: an id, a status', row: payment },
    { share: 0.3, bytes: 1500, what: 'a resource representation', row: resource },
    { share: 0.1, bytes: 8000, what: 'larger documents and lists', row: list },
  ];
  const meanResponse = distribution.reduce((sum, part) => sum + part.share * part.bytes, 0);
  const perRecord = (form: Form) => distribution.reduce((sum, part) => sum + part.share * part.row[form].allIn, 0);
  const mix = { plain: perRecord('plain'), compressed: perRecord('compressed'), encrypted: perRecord('encrypted') };
  const previousEstimate = fixedBytes + meanResponse * 1.1;
  const usablePerShard = 25 * GB;
  const replicas = 1;
  const coreBudget = 0.7;
  const requestsPerShard = (coreBudget * 1e6) / run.redisCpuUsPerRequest;
  const rates = [1_000, 100_000, 1_000_000];
  const retentions = [
    { label: '1 h', seconds: 3600 },
    { label: '24 h', seconds: 86_400 },
  ];
  const shardsFor = (rate: number, seconds: number, form: Form) => {
    const data = rate * seconds * mix[form];
    const memory = Math.max(1, Math.ceil(data / usablePerShard));
    const cpu = Math.max(1, Math.ceil(rate / requestsPerShard));
    return { data, memory, cpu, shards: Math.max(memory, cpu) };
  };
  const rows: string[] = [];
  let memoryBound = 0;
  for (const rate of rates) {
    for (const retention of retentions) {
      const plain = shardsFor(rate, retention.seconds, 'plain');
      const compressed = shardsFor(rate, retention.seconds, 'compressed');
      if (plain.memory > plain.cpu) memoryBound++;
      rows.push(
        `| ${rate.toLocaleString('en-US')} | ${retention.label} | ${fmtCount(rate * retention.seconds)} | ${fmtBytes(plain.data)} | ${fmtBytes(compressed.data)} | ${int(plain.memory)} | ${int(compressed.memory)} | ${int(plain.cpu)} | **${int(plain.shards)}** → **${int(compressed.shards)}** (${int(compressed.shards * (1 + replicas))} nodes) |`,
      );
    }
  }
  const atMillion = retentions.map((retention) => {
    const cells = FORMS.map((form) => shardsFor(1_000_000, retention.seconds, form));
    return `| ${retention.label} | ${cells.map((c) => `${fmtBytes(c.data)}, **${int(c.shards)}** shards (${int(c.shards * (1 + replicas))} nodes)`).join(' | ')} |`;
  });
  const cell = (f: RecordFootprint) => `${f.storedBytes} / ${f.memoryUsage} / ${f.allIn}`;
  const sizeRows = sizes.rows.map(
    (row) =>
      `| ${row.name} | ${row.jsonBytes} | ${cell(row.plain)} | ${cell(row.compressed)} | ${cell(row.encrypted)} | ${row.compressed.storedBytes === row.plain.storedBytes ? '– (left plain)' : saved(row.plain.allIn, row.compressed.allIn)} | ${row.jsonBytes < sizes.threshold ? 'left plain' : `${row.encodeUs.compressed.toFixed(1)} / ${row.decodeUs.compressed.toFixed(1)}`} | ${row.encodeUs.encrypted.toFixed(1)} / ${row.decodeUs.encrypted.toFixed(1)} |`,
  );
  const floorRows = sizes.rows.map(
    (row) =>
      `| ${row.name} | ${row.plain.allIn} | ${row.compressed.allIn} | ${fmtBytes(1e6 * 3600 * row.plain.allIn)} → ${fmtBytes(1e6 * 3600 * row.compressed.allIn)} | ${fmtBytes(1e6 * 86_400 * row.plain.allIn)} → ${fmtBytes(1e6 * 86_400 * row.compressed.allIn)} |`,
  );
  const bodyShare = (form: Form) => 1 - fixedBytes / mix[form];
  const appCpuOfMix = distribution.reduce(
    (sum, part) => sum + (part.row.jsonBytes >= sizes.threshold ? part.share * part.row.encodeUs.compressed : 0),
    0,
  );

  return `# Capacity planning for the Redis store

Generated (bench/lib/capacity-report.ts) from the bytes per record that \`bench/record-sizes.ts\` measured on
${sizes.date} (Redis ${sizes.redis}, ${sizes.allocator}, Node ${sizes.node}; bench/record-sizes.json) and the Redis CPU of the
\`npm run bench\` run of ${run.date} (docs/benchmarks.md; bench/capacity-run.json). The assumptions are stated; change
them and the arithmetic follows. Regenerate with \`npx ts-node -r tsconfig-paths/register --transpile-only bench/record-sizes.ts\`.

## What was measured

- **Bytes per record**, for four stored responses (status, replayable headers, JSON body, as the library stores
  them; bench/lib/sample-responses.ts), each written ${sizes.recordsPerSample.toLocaleString('en-US')} times through
  \`RedisIdempotencyStore\` in three forms: **plain** JSON (\`compression: false\`), **compressed** (the default:
  deflate at or above ${sizes.threshold} bytes, as base64 behind a marker, kept only when smaller) and **compressed then
  encrypted** (\`encryption\` set: AES-256-GCM, a 12-byte IV and a 16-byte tag per record, base64). Each cell is
  *stored response bytes / \`MEMORY USAGE\` (median of 200) / all-in* (growth of \`used_memory\` per record, which also
  counts the expiry entry and the hash tables), in bytes; µs are this process's median to encode / decode one record.
  All-in figures move by ±10 bytes from run to run (jemalloc's size classes, the hash tables' growth): a record left
  plain measures the same, whatever the column.

| record | JSON bytes | plain | compressed | compressed + encrypted | all-in saved | µs compress / inflate | µs compress + seal / open |
| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |
${sizeRows.join('\n')}

  The full bench's own records agree: the trivial handler's took ${run.benchRecordAllIn} bytes all-in there (${bench.plain.allIn} here)${run.paymentRecordAllIn !== null ? `, a payment ${run.paymentRecordAllIn} (${payment.plain.allIn} here)` : ''}.
- So a record costs **${fixedBytes} bytes plus its stored response**: the key (namespace, scope, client key, ${bench.keyBytes}
  bytes here), Redis's object and expiry entries, the state byte and the 32-byte binary fingerprint.
- **What encoding costs in bytes.** Base64 keeps every record text that every store accepts (PostgreSQL's TEXT
  refuses NUL bytes and invalid UTF-8), at 4 bytes per 3: a third more than the raw compressed bytes, which is why
  a response under ${sizes.threshold} bytes is left plain (deflate saves at most a quarter there, base64 gives it back;
  \`bench/response-codecs.ts\` shows each codec and level). Encryption adds 31 bytes before base64 (IV, tag, a format
  byte) and the key id: about 45 bytes on a compressed record. A sealed record is base64 whatever happens, so with
  \`encryption\` on the default threshold drops to 128 bytes, and a payment is stored in ${payment.encrypted.storedBytes} bytes for its
  ${payment.jsonBytes} of JSON (${payment.encryptedUncompressedBytes} sealed without compression).
- **Redis CPU per request**: ${run.redisCpuUsPerRequest.toFixed(1)} µs for a new key (acquire + complete, two Lua scripts)${run.paymentsRedisCpuUsPerRequest !== null ? `, ${run.paymentsRedisCpuUsPerRequest.toFixed(1)} µs on the payments route (fewer requests per second, so Redis's own background work weighs more per request)` : ''},
  measured as the server's CPU time over a measurement divided by its requests, on this shared
  ${run.cores}-core machine (${run.cpuModel}), where Redis competes with the load generator and the app
  for cores: a dedicated server does better, so this is conservative. Compression runs in the app, not in Redis.
- **App throughput**: one app process served ${run.appRps.toFixed(0)} guarded req/s on the trivial handler at
  ${run.appCpuUsPerRequest.toFixed(0)} µs of CPU each; size the app tier from your own handlers, the guard adds roughly the
  difference shown in docs/benchmarks.md. Compression adds the µs above to a stored response of ${sizes.threshold} bytes
  or more (${appCpuOfMix.toFixed(1)} µs per request on average over the mix below) and the inflate µs to a replay
  from the store; a \`localCache\` hit keeps the plain JSON and inflates nothing.

## Assumptions

- **Every request at the stated rate is a keyed write that creates a record.** Replays and conflicts read records but
  add none, so this is the upper bound.
- **Stored response sizes** (status + replayable headers + JSON body, as the library stores them):
${distribution.map((part) => `  ${(part.share * 100).toFixed(0)}% about ${part.bytes.toLocaleString('en-US')} bytes (${part.what}; measured as ${part.row.name}, ${part.row.jsonBytes} bytes);`).join('\n')}
  a mean of **${meanResponse.toFixed(0)} bytes**. Bytes per record are the measured all-in figures of those records:
  **${int(mix.plain)} bytes plain**, **${int(mix.compressed)} compressed**, ${int(mix.encrypted)} compressed and encrypted
  (the earlier estimate, ${fixedBytes} + 1.1 × the mean for jemalloc's size classes, gave ${int(previousEstimate)}).
  Nothing above \`maxResponseBytes\` (default 1 MiB) is stored.
- **The bodies are JSON as APIs write it**: ids (UUIDs, random hex, which do not compress), names, amounts, dates and
  repeated field names (which do). Bodies of mostly random tokens or already-compressed data shrink less; the codec
  then keeps them plain, so they cost nothing extra in bytes.
- **A shard** is one Redis primary on a 32 GB node with **25 GB usable** for data (the rest for fragmentation, client and
  replication buffers, and copy-on-write during a fork), **one replica** per primary (replication factor 2), and at most
  **${(coreBudget * 100).toFixed(0)}% of one core** for Redis's main thread, i.e. ${Math.floor(requestsPerShard).toLocaleString('en-US')} new keys per second per shard at the
  measured CPU cost (the same with or without compression: Redis stores the bytes it is given).
- Keys spread evenly: each record's key is hash-tagged on scope and client key, so records spread over all 16,384 slots.

## Memory and shards

Plain is \`compression: false\` (and every version before the option); compressed is the default.

| requests/s | retention | live records | data, plain | data, compressed | shards for memory, plain | shards for memory, compressed | shards for CPU | shards, plain → compressed (nodes) |
| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |
${rows.join('\n')}

At 1M requests/s:

| retention | plain | compressed | compressed + encrypted |
| --- | --- | --- | --- |
${atMillion.join('\n')}

For scale, each measured record alone at 1M requests/s (all-in bytes, plain → compressed; the two smallest are left
plain, their difference is noise):

| record | plain | compressed | 1 h | 24 h |
| --- | ---: | ---: | ---: | ---: |
${floorRows.join('\n')}

## What dominates, and what cuts it

Plain, the stored response is **${(bodyShare('plain') * 100).toFixed(0)}%** of every record at the assumed sizes; compressed,
**${(bodyShare('compressed') * 100).toFixed(0)}%**: compression takes ${saved(mix.plain, mix.compressed)} off the mean record, all of it from the
${(distribution.filter((part) => part.row.jsonBytes >= sizes.threshold).reduce((sum, part) => sum + part.share, 0) * 100).toFixed(0)}% of responses at or above ${sizes.threshold} bytes (a ${saved(resource.plain.allIn, resource.compressed.allIn)} smaller ~1.5 KB record, ${saved(list.plain.allIn, list.compressed.allIn)} smaller ~8 KB one).
Memory, not Redis CPU, sets the shard count in ${memoryBound} of the ${rates.length * retentions.length} cases above, so shards fall in proportion.
The fixed part (${fixedBytes} bytes) and the small responses (a payment: ${payment.jsonBytes} bytes, left plain) are now most of what is left.

What the library offers:

- **\`compression\` (default on, \`{ threshold: ${sizes.threshold} }\`).** The numbers above. Turn it off (\`false\`) only if the app
  tier's CPU is dearer than Redis memory; lower the threshold and responses between ~300 and ${sizes.threshold} bytes
  save up to a quarter more at ~13 µs each.
- **\`ttl\` (retention, default 24 h).** Memory is linear in it: 1 h instead of 24 h is 24× less. Keep it above the
  longest time a client retries (its backoff schedule, plus queues and batch jobs that replay requests), not longer.
  It can be set per route with \`@Idempotent({ ttl })\`, so only routes whose clients retry late keep records long.
- **\`maxResponseBytes\` (default 1 MiB).** Caps the worst record: a larger response is sent but not stored (the
  record is released and a retry runs the handler again), so set it just above the largest response that must be
  replayed. It bounds the JSON before compression (and what a replay may inflate to); with the default, a single
  1 MiB response costs as much as ~${Math.round((1024 * 1024) / mix.plain).toLocaleString('en-US')} average plain records.
- **Storing only what replay needs.** A record already holds only the status, \`content-type\`, \`location\` and the
  headers you allow-list (\`replayHeaders\`), the body, and a 32-byte binary fingerprint; never the request or its
  headers. The biggest lever left is the body itself: a create endpoint that answers with the new resource's id and
  status rather than the whole resource stores a record of a few hundred bytes. \`storeResponse\` decides which answers are
  stored at all (default: every status below 500).
- **\`encryption\`** costs ${Math.round((mix.encrypted / mix.compressed - 1) * 100)}% over the compressed mean (most of it base64 on the small responses, see above) and
  about 6 µs per record to seal or open; it buys that the store never holds a body in clear.
- **\`lockTimeout\`** only bounds how long an in-flight record blocks retries; in-flight records are small and short-lived.

Redis Cluster is supported as it is (ioredis \`Cluster\`, every record on one slot), so shards are added by resharding,
with no change to the app.
`;
}
