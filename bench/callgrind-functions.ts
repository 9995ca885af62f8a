/*
 * Where the instructions of a counted window went, by function, JavaScript functions named: a profile in the
 * instruction phase's unit (bench/lib/instruction-phase.ts). Reads the dumps `BENCH_KEEP_CALLGRIND=1 npm run bench`
 * keeps, with the `--perf-basic-prof` map each app wrote, which names the JIT code callgrind only knows by address.
 *
 *   npx ts-node -r tsconfig-paths/register --transpile-only bench/callgrind-functions.ts <dump> [<baseline dump>]
 *
 * <dump> is `<dir>/<app>.callgrind.<window>`. JIT compilation is left out, as in the phase's figure. With a baseline (another app's window), it prints the difference per
 * function: what the first app costs that the baseline does not. Settings: CALLGRIND_REQUESTS (1000, the requests in
 * a window: figures are per request), CALLGRIND_TOP (40 lines).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { COMPILATION } from './lib/instruction-phase';

interface CodeRange {
  start: number;
  size: number;
  name: string;
}

/** The JIT code ranges of a `--perf-basic-prof` map (`start size name` in hex), later entries first for a start. */
function readPerfMap(path: string): CodeRange[] {
  if (!existsSync(path)) return [];
  const byStart = new Map<number, CodeRange>();
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    const [start, size, ...name] = line.split(' ');
    if (!name.length) continue;
    byStart.set(parseInt(start, 16), { start: parseInt(start, 16), size: parseInt(size, 16), name: name.join(' ') });
  }
  return [...byStart.values()].sort((a, b) => a.start - b.start);
}

function nameAt(ranges: readonly CodeRange[], address: number): string | undefined {
  let low = 0;
  let high = ranges.length - 1;
  while (low <= high) {
    const middle = (low + high) >> 1;
    if (ranges[middle].start <= address) low = middle + 1;
    else high = middle - 1;
  }
  const range = ranges[high];
  return range && address < range.start + range.size ? range.name : undefined;
}

/** Self instructions per function of one dump (callgrind_annotate's totals), JIT addresses named from the map. */
function functionsOf(dump: string): Map<string, number> {
  const ranges = readPerfMap(`${dump.replace(/\.\d+$/, '')}.perf-map`);
  const text = execFileSync('callgrind_annotate', ['--threshold=100', dump], {
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
  });
  const totals = new Map<string, number>();
  for (const line of text.split('\n')) {
    const match = /^\s*([\d,]+) \(\s*[\d.]+%\)\s+(.*)$/.exec(line);
    if (!match || match[2].includes('PROGRAM TOTALS')) continue;
    let name = match[2].replace(/\s*\[[^\]]*\]$/, '').replace(/^\?\?\?:/, '');
    const address = /^0x([0-9a-f]+)/.exec(name);
    if (address) name = `JS ${nameAt(ranges, parseInt(address[1], 16)) ?? `(unnamed JIT code ${name})`}`;
    // As in the phase's figure, JIT compilation is left out.
    if (COMPILATION.test(name)) continue;
    totals.set(name, (totals.get(name) ?? 0) + Number(match[1].replace(/,/g, '')));
  }
  return totals;
}

function main(): void {
  const [dump, baseline] = process.argv.slice(2);
  if (!dump) throw new Error('usage: bench/callgrind-functions.ts <dump> [<baseline dump>]');
  const requests = Number(process.env.CALLGRIND_REQUESTS ?? 1000);
  const top = Number(process.env.CALLGRIND_TOP ?? 40);
  const measured = functionsOf(dump);
  const base = baseline ? functionsOf(baseline) : new Map<string, number>();
  const rows = [...new Set([...measured.keys(), ...base.keys()])]
    .map((name) => ({ name, perRequest: ((measured.get(name) ?? 0) - (base.get(name) ?? 0)) / requests }))
    .sort((a, b) => b.perRequest - a.perRequest);
  const sum = (map: Map<string, number>) => [...map.values()].reduce((a, b) => a + b, 0) / requests;
  console.log(
    baseline
      ? `${dump} minus ${baseline}: ${Math.round(sum(measured) - sum(base)).toLocaleString('en')} instructions/request`
      : `${dump}: ${Math.round(sum(measured)).toLocaleString('en')} instructions/request`,
  );
  for (const row of rows.slice(0, top))
    console.log(`${Math.round(row.perRequest).toString().padStart(10)}  ${row.name}`);
  if (baseline) {
    console.log('...');
    for (const row of rows.slice(-8)) console.log(`${Math.round(row.perRequest).toString().padStart(10)}  ${row.name}`);
  }
}

main();
