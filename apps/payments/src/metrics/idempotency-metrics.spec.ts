import { Registry } from 'prom-client';
import { IdempotencyMetrics } from './idempotency-metrics';

describe('IdempotencyMetrics', () => {
  it('counts a deferred settlement apart from requests, leaving both rates to requests alone', async () => {
    const registry = new Registry();
    const metrics = new IdempotencyMetrics(registry);
    const route = 'POST /payments';
    metrics.record({ outcome: 'executed', route, scope: 'm', acquireMs: 1 });
    metrics.record({ outcome: 'replayed', route, scope: 'm', acquireMs: 1 });
    metrics.record({
      outcome: 'deferred_settlement',
      route,
      scope: 'm',
      reason: 'deferred release: settled after 2 attempt(s)',
      deferred: { action: 'release', result: 'settled', attempts: 2 },
    });

    const text = await registry.metrics();
    expect(text).toContain(
      'idempotency_deferred_settlements_total{route="POST /payments",action="release",result="settled"} 1',
    );
    expect(text).not.toMatch(/idempotency_requests_total\{[^}]*outcome="deferred_settlement"/);
    expect(text).toContain('idempotency_duplicate_request_ratio{route="POST /payments"} 0.5');
  });
});
