/*
 * The CPU targets' figures in instructions per request (bench/lib/instruction-count.ts says why): each variant the
 * CPU targets compare runs once more, under callgrind, in a process of its own. After a warm-up long enough for V8
 * to have optimised the request path (about 4,000 requests: until then every window pays for compilations that
 * natively are over within the first seconds), it is measured in consecutive windows of a fixed number of
 * requests, one connection, one request at a time.
 *
 * JIT compilation is counted apart and left out of the figure: a compilation happens once per function, and how
 * many fall inside a window depends on where V8's tiering thresholds land, not on what a request costs (in the
 * first trial, compilation made the same app's windows differ by a third). Garbage collection stays in, the
 * collector's helper threads too: what a store keeps alive and what it allocates are its costs.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { AppStats } from '../apps/app-process';
import { countInstructions } from './instruction-count';
import { LoadResult, RequestShape, runLoad } from './load';
import { AppProcess } from './processes';

const run = promisify(execFile);

/** One variant in the phase: how to start its app, and its requests. */
export interface InstructionEntry {
  id: string;
  app: ConstructorParameters<typeof AppProcess>;
  request: () => RequestShape;
}

/** One window of one variant. */
export interface InstructionMeasurement {
  variant: string;
  /** The window's index: windows play the part rounds play elsewhere. */
  round: number;
  requests: number;
  /** Instructions per request, JIT compilation left out: the figure. */
  perRequest: number;
  /** What JIT compilation added per request in the window, not in the figure. */
  compilePerRequest: number;
  /** Of the figure, what the garbage collector took per request. */
  gcPerRequest: number;
}

export interface InstructionPhase {
  entries: InstructionEntry[];
  warmupRequests: number;
  windowRequests: number;
  windows: number;
  /** Apps measured at once: instruction counts do not depend on what else runs, so both cores can be used. */
  parallel: number;
  /**
   * Keep callgrind's dumps (their folder is logged) rather than delete them, with each app's `--perf-basic-prof`
   * map of its JIT code next to them, so that bench/callgrind-functions.ts can name the JavaScript functions.
   */
  keepDumps?: boolean;
  /** Throws when a window saw errors or outcomes the variant must not have. */
  check: (id: string, load: LoadResult, stats: AppStats, app: AppProcess) => Promise<void>;
  log: (message: string) => void;
}

/** Measures every entry's windows; entries run `parallel` at a time. */
export async function runInstructionPhase(phase: InstructionPhase): Promise<InstructionMeasurement[]> {
  const dir = mkdtempSync(join(tmpdir(), 'idempotency-bench-callgrind-'));
  const queue = [...phase.entries];
  const measurements: InstructionMeasurement[] = [];
  const worker = async () => {
    for (let entry = queue.shift(); entry; entry = queue.shift()) measurements.push(...(await measure(entry, dir)));
  };
  const measure = async (entry: InstructionEntry, outDir: string) => {
    const [name, script, options] = entry.app;
    const outFile = join(outDir, `${name}.callgrind`);
    const app = new AppProcess(`${name} (callgrind)`, script, {
      ...options,
      env: { ...options?.env, BENCH_UNDER_CALLGRIND: '1' },
      callgrindOut: outFile,
      // V8's memory reducer starts major collections when the app seems idle, judged by allocations per second of
      // wall time; under callgrind, thirty times slower, a busy app looks idle. Natively, under load, it stays off.
      nodeArgs: ['--no-memory-reducer', ...(phase.keepDumps ? ['--perf-basic-prof'] : [])],
    });
    const started = Date.now();
    // Under valgrind a Nest app takes about half a minute to start, and a prefilled one longer.
    await app.start(900_000);
    try {
      await runLoad(app.url, entry.request, { connections: 1, durationS: 0, amount: phase.warmupRequests });
      await app.settle();
      const windows: InstructionMeasurement[] = [];
      for (let round = 0; round < phase.windows; round++) {
        app.reset({ monitors: false });
        let load: LoadResult | undefined;
        const { total, dump } = await countInstructions(app.pid!, outFile, async () => {
          load = await runLoad(app.url, entry.request, {
            connections: 1,
            durationS: 0,
            amount: phase.windowRequests,
          });
        });
        await phase.check(entry.id, load!, await app.stats(), app);
        const split = await splitDump(dump);
        const requests = load!.requests;
        windows.push({
          variant: entry.id,
          round,
          requests,
          perRequest: (total - split.compile) / requests,
          compilePerRequest: split.compile / requests,
          gcPerRequest: split.gc / requests,
        });
        const last = windows[windows.length - 1];
        phase.log(
          `  ${entry.id.padEnd(20)} window ${round + 1}/${phase.windows}: ${Math.round(last.perRequest).toLocaleString('en')} instructions/request (GC ${Math.round(last.gcPerRequest).toLocaleString('en')}; JIT compilation, left out, ${Math.round(last.compilePerRequest).toLocaleString('en')})`,
        );
      }
      phase.log(`  ${entry.id}: measured in ${((Date.now() - started) / 1000).toFixed(0)} s`);
      return windows;
    } finally {
      const pid = app.pid;
      await app.stop();
      if (phase.keepDumps && pid && existsSync(`/tmp/perf-${pid}.map`))
        renameSync(`/tmp/perf-${pid}.map`, `${outFile}.perf-map`);
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.max(1, phase.parallel) }, worker));
  } finally {
    // The dumps (a few MB a window) are kept only when asked for, to read with callgrind_annotate.
    if (phase.keepDumps) phase.log(`callgrind dumps kept in ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  }
  return measurements;
}

/** Functions whose instructions are V8 compiling (parsing, bytecode generation, Maglev, TurboFan). */
export const COMPILATION =
  /v8::internal::(compiler|maglev|turboshaft)::|v8::internal::Compiler::|OptimizedCompilationJob|v8::internal::(Parser|PreParser|Scanner|AstNodeFactory|Zone)\b|v8::internal::interpreter::(BytecodeGenerator|BytecodeArrayBuilder)/;
/** Functions whose instructions are V8's garbage collector (scavenges, marking, sweeping, compaction). */
const COLLECTION =
  /Scaveng|MarkCompact|Marking|Sweep|Evacuat|heap::base::|cppgc::|v8::internal::Heap::|MinorMC|ConcurrentMarking|IterateAndScavenge/;

/** The compilation and collection instructions of one callgrind dump, from callgrind_annotate's per-function totals. */
export async function splitDump(dump: string): Promise<{ compile: number; gc: number }> {
  const { stdout } = await run('callgrind_annotate', ['--threshold=100', dump], {
    maxBuffer: 256 * 1024 * 1024,
  });
  let compile = 0;
  let gc = 0;
  for (const line of stdout.split('\n')) {
    const match = /^\s*([\d,]+) \(\s*[\d.]+%\)\s+(.*)$/.exec(line);
    if (!match || match[2].includes('PROGRAM TOTALS')) continue;
    const count = Number(match[1].replace(/,/g, ''));
    if (COMPILATION.test(match[2])) compile += count;
    else if (COLLECTION.test(match[2])) gc += count;
  }
  return { compile, gc };
}
