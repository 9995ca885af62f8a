import { median, range } from './stats';
import type { BenchReport, Summary } from './report';

const fixed = (value: number | null | undefined, digits: number) =>
  value === null || value === undefined || !Number.isFinite(value) ? '–' : value.toFixed(digits);

/**
 * docs/benchmarks.md's "What each feature costs": every variant that names a `reference` (the same app without
 * the feature) against it, round by round, so the machine's drift between rounds cancels out of the difference.
 */
export function renderFeatureCosts(report: BenchReport, summary: Summary): string {
  const perRound = (id: string) => report.measurements.filter((m) => m.variant === id);
  const cpuPerRequest = (m: BenchReport['measurements'][number]) => m.stats.cpuUs / Math.max(1, m.load.requests);
  const rows = summary.variants
    .filter((v) => v.info.reference && summary.byId.has(v.info.reference))
    .map((v) => {
      const reference = summary.byId.get(v.info.reference!)!;
      const references = perRound(reference.info.id);
      const pairs = perRound(v.info.id).flatMap((m) => {
        const same = references.find((r) => r.round === m.round);
        return same ? [{ m, r: same }] : [];
      });
      const deltas = pairs.map(({ m, r }) => cpuPerRequest(m) - cpuPerRequest(r));
      const ratios = pairs.map(({ m, r }) => m.load.rps / r.load.rps);
      const deltaRange = range(deltas);
      const ratioRange = range(ratios);
      const bytes = (id: string) => summary.byId.get(id)?.redisBytesPerKey ?? null;
      const redisBytes =
        bytes(v.info.id) === null ? '–' : `${fixed(bytes(reference.info.id), 0)} → ${fixed(bytes(v.info.id), 0)}`;
      return (
        `| ${v.info.label} | ${reference.info.label} | ${fixed(reference.appCpuUsPerRequest, 0)} → ` +
        `${fixed(v.appCpuUsPerRequest, 0)} | ${fixed(median(deltas), 0)} (${fixed(deltaRange?.[0], 0)} to ` +
        `${fixed(deltaRange?.[1], 0)}) | ${fixed(median(ratios), 2)} (${fixed(ratioRange?.[0], 2)}–` +
        `${fixed(ratioRange?.[1], 2)}) | ${redisBytes} |`
      );
    });
  if (rows.length === 0) return '';
  return `### What each feature costs

| feature | measured against (the same app without it) | app CPU (µs/req) | Δ app CPU (µs/req, median and range of per-round differences) | req/s ratio to it (median, range) | Redis bytes per record (all-in) |
| --- | --- | ---: | ---: | ---: | ---: |
${rows.join('\n')}

Each feature's app is the Redis-guarded trivial app with that one option more, measured in the same rounds as the
app without it. Metrics: the OpenTelemetry SDK's \`MeterProvider\` behind the Prometheus exporter (recording only;
nothing scrapes during the run). Traces: a tracer provider with a \`BatchSpanProcessor\` whose exporter drops the
spans (what the SDK does per span, not the network to a collector). Compression and encryption are measured on an
order answered with about ${report.largeResponseBytes ?? 8000} bytes of line items, where the stored response is large
enough to be compressed; the Redis column shows what each stored form costs in memory. Differences smaller than
their range are noise on this shared machine.
`;
}
