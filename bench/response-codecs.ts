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
import { sampleResponses, thresholdSamples } from './lib/sample-responses';
import { microsecondsPerCall as microseconds } from './lib/stats';

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
  // Where the threshold falls: the chosen codec on responses between a payment and a resource.
  const chosen = CODECS.find((codec) => codec.name === 'deflate-raw 6')!;
  console.log('\n| response (deflate-raw 6) | plain bytes | stored bytes | saved | µs compress |');
  console.log('| --- | ---: | ---: | ---: | ---: |');
  for (const sample of [...sampleResponses().slice(0, 2), ...thresholdSamples()]) {
    const input = Buffer.from(sample.json);
    const stored = storedLength(chosen.compress(input).length);
    const saved = `${(((input.length - stored) / input.length) * 100).toFixed(0)}%`;
    console.log(
      `| ${sample.name} | ${input.length} | ${stored} | ${saved} | ${microseconds(() => chosen.compress(input)).toFixed(1)} |`,
    );
  }
}

main();
