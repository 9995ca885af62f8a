/*
 * Summarises a V8 `.cpuprofile` (as `BENCH_PROFILE=<app> npm run bench` or `node --cpu-prof` write them):
 * self time by function and by package/file, and the inclusive time of chosen functions, as shares of the time the
 * process was busy (idle samples left out).
 *
 *   npx ts-node --transpile-only bench/profile-summary.ts <file.cpuprofile> [top=40] [function names to total...]
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

function where(url: string): string {
  if (!url) return '(native)';
  const nodeModules = url.lastIndexOf('node_modules/');
  if (nodeModules >= 0) {
    const rest = url.slice(nodeModules + 'node_modules/'.length).split('/');
    return rest[0].startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0];
  }
  if (url.startsWith('node:')) return url;
  const repo = url.indexOf('/libs/');
  if (repo >= 0) return url.slice(repo + 1);
  return url
    .replace(/^file:\/\//, '')
    .split('/')
    .slice(-2)
    .join('/');
}

function main(): void {
  const [file, topArg, ...focus] = process.argv.slice(2);
  if (!file) throw new Error('usage: profile-summary <file.cpuprofile> [top] [function...]');
  const top = Number(topArg ?? 40);
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);

  // Shares are of the busy time: a bench profile spans the rounds, and the app idles while other variants run.
  const self = new Map<number, number>();
  let total = 0;
  let idle = 0;
  profile.samples.forEach((id, i) => {
    const dt = profile.timeDeltas[i] ?? 0;
    if (byId.get(id)?.callFrame.functionName === '(idle)') {
      idle += dt;
      return;
    }
    self.set(id, (self.get(id) ?? 0) + dt);
    total += dt;
  });

  const byFunction = new Map<string, number>();
  const byPlace = new Map<string, number>();
  const inclusive = new Map<string, number>();
  for (const [id, time] of self) {
    const node = byId.get(id)!;
    const name = `${node.callFrame.functionName || '(anonymous)'} ${where(node.callFrame.url)}:${node.callFrame.lineNumber + 1}`;
    byFunction.set(name, (byFunction.get(name) ?? 0) + time);
    const place = where(node.callFrame.url);
    byPlace.set(place, (byPlace.get(place) ?? 0) + time);
    // Inclusive time of focus functions: count each sample once per distinct focus name on its stack.
    if (focus.length) {
      const seen = new Set<string>();
      for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
        const fn = byId.get(at)!.callFrame.functionName;
        if (focus.includes(fn) && !seen.has(fn)) {
          seen.add(fn);
          inclusive.set(fn, (inclusive.get(fn) ?? 0) + time);
        }
      }
    }
  }
  const pct = (time: number) => `${((100 * time) / total).toFixed(1).padStart(5)}%`;
  const print = (title: string, map: Map<string, number>, limit: number) => {
    console.log(`\n${title}`);
    for (const [name, time] of [...map].sort((a, b) => b[1] - a[1]).slice(0, limit))
      console.log(`${pct(time)}  ${name}`);
  };
  console.log(`busy: ${(total / 1e6).toFixed(2)} s (shares below are of this); idle: ${(idle / 1e6).toFixed(2)} s`);
  print('self time by package / file', byPlace, 25);
  print('self time by function', byFunction, top);
  if (focus.length) print('inclusive time', inclusive, focus.length);
}

main();
