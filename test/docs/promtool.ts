import { spawnSync } from 'node:child_process';

/** What one promtool run printed (stdout and stderr together) and how it exited. */
export interface PromtoolRun {
  status: number | null;
  output: string;
}

const MISSING =
  "promtool is not on PATH. Install Debian's prometheus package (`apt-get install --no-install-recommends " +
  'prometheus`; `.ci/install-promtool` does it without starting a Prometheus server). These checks never skip: ' +
  'unchecked alerting rules are how an alert stays silent in an outage.';

/** The version line of the promtool on PATH; throws, saying how to install it, when there is none. */
export function promtoolVersion(): string {
  const run = spawnSync('promtool', ['--version'], { encoding: 'utf8' });
  if (run.error) throw new Error(`${MISSING}\n(${run.error.message})`);
  return `${run.stdout}${run.stderr}`.split('\n')[0];
}

/** Runs promtool with `args` in `cwd`. */
export function promtool(args: string[], cwd: string): PromtoolRun {
  const run = spawnSync('promtool', args, { cwd, encoding: 'utf8', timeout: 60_000 });
  if (run.error) throw new Error(`promtool ${args.join(' ')} could not run: ${run.error.message}`);
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}

/** Throws with promtool's own output unless the run succeeded, so a failing test shows what promtool said. */
export function expectSuccess(run: PromtoolRun, what: string): string {
  if (run.status !== 0) throw new Error(`${what} failed (exit ${run.status}):\n${run.output}`);
  return run.output;
}
