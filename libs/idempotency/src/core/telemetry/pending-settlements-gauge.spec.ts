import { MeterProvider, MetricReader, SumMetricData } from '@opentelemetry/sdk-metrics';
import { observePendingSettlements } from './pending-settlements-gauge';

class CollectingMetricReader extends MetricReader {
  protected async onForceFlush(): Promise<void> {}
  protected async onShutdown(): Promise<void> {}
}

describe('observePendingSettlements', () => {
  const reader = new CollectingMetricReader();
  const meter = new MeterProvider({ readers: [reader] }).getMeter('pending-settlements-gauge.spec');
  const pending = async () => {
    const { resourceMetrics } = await reader.collect();
    const metric = resourceMetrics.scopeMetrics[0]?.metrics.find(
      (data) => data.descriptor.name === 'idempotency.deferred_settlements.pending',
    ) as SumMetricData | undefined;
    return metric?.dataPoints.map((point) => point.value);
  };

  it('sums every queue on one meter in one series, whichever registered first, until each stops', async () => {
    const stopFirst = observePendingSettlements(meter, () => 2);
    const stopSecond = observePendingSettlements(meter, () => 0);
    expect(await pending()).toEqual([2]);
    stopFirst();
    expect(await pending()).toEqual([0]);
    const stopThird = observePendingSettlements(meter, () => 5);
    expect(await pending()).toEqual([5]);
    stopSecond();
    stopThird();
    expect(await pending()).toEqual([0]);
  });
});
