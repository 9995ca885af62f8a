/** One series of a Prometheus text scrape: its labels and value. */
export interface PrometheusSample {
  labels: Record<string, string>;
  value: number;
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

/**
 * The samples of `name` in a scrape whose labels include `having`, whatever the labels' order: the OpenTelemetry
 * exporter prints attributes in the order they were recorded and adds its own (`otel_scope_name`), so tests match
 * by label rather than by the whole line.
 */
export function prometheusSamples(text: string, name: string, having: Record<string, string> = {}): PrometheusSample[] {
  const samples: PrometheusSample[] = [];
  for (const line of text.split('\n')) {
    const match = SAMPLE.exec(line);
    if (!match || match[1] !== name) continue;
    const labels: Record<string, string> = {};
    for (const [, label, value] of (match[2] ?? '').matchAll(LABEL)) labels[label] = value.replace(/\\(.)/g, '$1');
    if (Object.entries(having).every(([label, value]) => labels[label] === value)) {
      samples.push({ labels, value: Number(match[3]) });
    }
  }
  return samples;
}
