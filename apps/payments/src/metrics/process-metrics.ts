import type { Meter } from '@opentelemetry/api';

/**
 * The process figures worth a scrape and cheap to take (read when scraped, nothing per request): CPU time by mode
 * and resident memory, under OpenTelemetry's semantic-convention names. prom-client's event-loop and GC figures
 * are left out: they need a histogram fed by perf_hooks all the time.
 */
export function observeProcessMetrics(meter: Meter): void {
  meter
    .createObservableCounter('process.cpu.time', { description: 'CPU time spent by the process', unit: 's' })
    .addCallback((result) => {
      const { user, system } = process.cpuUsage();
      result.observe(user / 1e6, { 'cpu.mode': 'user' });
      result.observe(system / 1e6, { 'cpu.mode': 'system' });
    });
  meter
    .createObservableUpDownCounter('process.memory.usage', {
      description: 'Resident set size of the process',
      unit: 'By',
    })
    .addCallback((result) => result.observe(process.memoryUsage.rss()));
}
