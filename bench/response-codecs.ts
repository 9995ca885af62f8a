/*
 * How much each compressor saves on stored responses, and what it costs, in this process (not part of `npm run
 * bench`): the figures behind the `compression` option's algorithm and threshold (docs/capacity.md, README).
 *
 *   npx ts-node -r tsconfig-paths/register --transpile-only bench/response-codecs.ts
 *
 * For each sample (bench/lib/sample-responses.ts) and codec: bytes after compression, bytes as stored (the marker
 * and base64, which every store can keep as text), µs to compress and to decompress (median of 15 batches), and bytes
 * saved per µs of compression. A stored size above the plain JSON's means compression would cost bytes.
 */
import * as zlib from 'node:zlib';
import { sampleResponses } from './lib/sample-responses';

interface Codec {
  name: string;
  compress(input: Buffer): Buffer;
  decompress(input: Buffer): Buffer;
}

const { constants } = zlib;
const brotli = (quality: number): Codec => ({
  name: `brotli q${quality}`,
  compress: (input) =>
    zlib.brotliCompressSync(input, {
      params: {
        [constants.BROTLI_PARAM_QUALITY]: quality,
        [constants.BROTLI_PARAM_MODE]: constants.BROTLI_MODE_TEXT,
        [constants.BROTLI_PARAM_SIZE_HINT]: input.length,
      },
    }),
  decompress: (input) => zlib.brotliDecompressSync(input),
});

const CODECS: Codec[] = [
  ...[1, 6, 9].map((level) => ({
    name: `gzip ${level}`,
    compress: (input: Buffer) => zlib.gzipSync(input, { level }),
    decompress: (input: Buffer) => zlib.gunzipSync(input),
  })),
  ...[1, 6, 9].map((level) => ({
    name: `deflate-raw ${level}`,
    compress: (input: Buffer) => zlib.deflateRawSync(input, { level }),
    decompress: (input: Buffer) => zlib.inflateRawSync(input),
  })),
  ...[1, 2, 4, 5, 6, 11].map(brotli),
];

/** Median µs per call, over batches sized so that each takes a few milliseconds. */
function microseconds(fn: () => unknown): number {
  for (let i = 0; i < 200; i++) fn();
  let perBatch = 1;
  for (;;) {
    const started = process.hrtime.bigint();
    for (let i = 0; i < perBatch; i++) fn();
    if (Number(process.hrtime.bigint() - started) > 5e6) break;
    perBatch *= 2;
  }
  const samples: number[] = [];
  for (let batch = 0; batch < 15; batch++) {
    const started = process.hrtime.bigint();
    for (let i = 0; i < perBatch; i++) fn();
    samples.push(Number(process.hrtime.bigint() - started) / perBatch / 1000);
  }
  return samples.sort((a, b) => a - b)[7];
}

/** What the library stores for `compressed` bytes: a one-character marker, then base64. */
function storedLength(compressed: number): number {
  return 1 + 4 * Math.ceil(compressed / 3);
}

function main(): void {
  const zstd = (zlib as { zstdCompressSync?: unknown }).zstdCompressSync;
  console.log(
    `Node ${process.version}; zstd: ${typeof zstd === 'function' ? 'present' : 'absent (zlib.zstdCompressSync is undefined)'}`,
  );
  console.log(
    '\n| sample | plain bytes | codec | compressed | stored (marker + base64) | µs compress | µs decompress | bytes saved per µs |',
  );
  console.log('| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: |');
  for (const sample of sampleResponses()) {
    const input = Buffer.from(sample.json);
    for (const codec of CODECS) {
      // Quality 11 is shown once, on the largest sample: it is the default and far too slow for a request path.
      if (codec.name === 'brotli q11' && !sample.name.startsWith('list')) continue;
      const compressed = codec.compress(input);
      if (!codec.decompress(compressed).equals(input)) throw new Error(`${codec.name} did not round-trip`);
      const compressUs = microseconds(() => codec.compress(input));
      const decompressUs = microseconds(() => codec.decompress(compressed));
      const stored = storedLength(compressed.length);
      const saved = input.length - stored;
      console.log(
        `| ${sample.name} | ${input.length} | ${codec.name} | ${compressed.length} | ${stored} | ${compressUs.toFixed(1)} | ${decompressUs.toFixed(1)} | ${(saved / compressUs).toFixed(1)} |`,
      );
    }
  }
}

main();
