import { MetricsService } from './metrics.service';

describe('IdempotencyMetrics', () => {
  let metrics: MetricsService;
  beforeEach(() => (metrics = new MetricsService()));
  afterEach(() => metrics.onApplicationShutdown());

  it('computes both rates per route from keyed requests only, leaving deferred settlements out', async () => {
    const route = 'POST /payments';
    metrics.idempotency.record({ outcome: 'executed', route, scope: 'm', acquireMs: 1 });
    metrics.idempotency.record({ outcome: 'replayed', route, scope: 'm', acquireMs: 1 });
    metrics.idempotency.record({ outcome: 'mismatch', route, scope: 'm', acquireMs: 1 });
    metrics.idempotency.record({ outcome: 'missing_key', route, scope: 'm' });
    metrics.idempotency.record({
      outcome: 'deferred_settlement',
      route,
      scope: 'm',
      reason: 'deferred release: settled after 2 attempt(s)',
      deferred: { action: 'release', result: 'settled', attempts: 2 },
    });

    const { contentType, body } = await metrics.scrape();
    expect(contentType).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(body).toMatch(
      /^idempotency_duplicate_request_ratio\{idempotency_route="POST \/payments",otel_scope_name="payments"\} 0\.333/m,
    );
    expect(body).toMatch(
      /^idempotency_key_collision_ratio\{idempotency_route="POST \/payments",otel_scope_name="payments"\} 0\.333/m,
    );
    expect(body).toMatch(/^process_cpu_time_total\{cpu_mode="user",otel_scope_name="payments"\} \d/m);
    expect(body).toMatch(/^process_memory_usage\{otel_scope_name="payments"\} [1-9]\d*$/m);
  });
});
