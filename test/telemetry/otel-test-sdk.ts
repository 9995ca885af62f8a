import { Attributes, context, ContextManager } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  DataPointType,
  HistogramMetricData,
  MeterProvider,
  MetricData,
  MetricReader,
  SumMetricData,
} from '@opentelemetry/sdk-metrics';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  ReadableSpan,
  SimpleSpanProcessor,
  Span,
  SpanProcessor,
} from '@opentelemetry/sdk-trace-base';

/** A reader a test collects from when it wants, rather than on a timer. */
class CollectingMetricReader extends MetricReader {
  protected async onForceFlush(): Promise<void> {}
  protected async onShutdown(): Promise<void> {}
}

/** A span's start or end, in the order they happened. */
export interface SpanEvent {
  event: 'start' | 'end';
  spanId: string;
}

/**
 * Notes when each span starts and ends, in order: a finished span's times are anchored on `Date.now()` (whole
 * milliseconds), so two spans within one millisecond cannot be ordered by them.
 */
class TimelineSpanProcessor implements SpanProcessor {
  constructor(private readonly timeline: SpanEvent[]) {}

  onStart(span: Span): void {
    this.timeline.push({ event: 'start', spanId: span.spanContext().spanId });
  }

  onEnd(span: ReadableSpan): void {
    this.timeline.push({ event: 'end', spanId: span.spanContext().spanId });
  }

  async forceFlush(): Promise<void> {}
  async shutdown(): Promise<void> {}
}

/** One data point of a counter or a histogram, flattened for assertions. */
export interface Point {
  name: string;
  attributes: Attributes;
  value: number;
  /** Histograms: the observations' count and their bucket bounds. */
  count?: number;
  boundaries?: number[];
}

/**
 * The real OpenTelemetry SDK, in memory: a MeterProvider with a reader collected on demand and a tracer provider
 * exporting finished spans to an array. Context travels through AsyncLocalStorage, as in a traced app.
 */
export class OtelTestSdk {
  readonly reader = new CollectingMetricReader();
  readonly meterProvider = new MeterProvider({ readers: [this.reader] });
  readonly spanExporter = new InMemorySpanExporter();
  /** Every span's start and end since the last `resetSpans()`, in order. */
  readonly timeline: SpanEvent[] = [];
  readonly tracerProvider = new BasicTracerProvider({
    spanProcessors: [new TimelineSpanProcessor(this.timeline), new SimpleSpanProcessor(this.spanExporter)],
  });
  private contextManager: ContextManager | undefined;

  /** Installs the AsyncLocalStorage context manager globally (the API has one slot for it). */
  start(): this {
    this.contextManager = new AsyncLocalStorageContextManager().enable();
    context.setGlobalContextManager(this.contextManager);
    return this;
  }

  async shutdown(): Promise<void> {
    context.disable();
    await this.meterProvider.shutdown();
    await this.tracerProvider.shutdown();
  }

  /** Every metric of the library's scope, by name. */
  async metrics(): Promise<Map<string, MetricData>> {
    const { resourceMetrics } = await this.reader.collect();
    const byName = new Map<string, MetricData>();
    for (const scope of resourceMetrics.scopeMetrics) {
      if (scope.scope.name !== '@nest-idempotency/core') continue;
      for (const metric of scope.metrics) byName.set(metric.descriptor.name, metric);
    }
    return byName;
  }

  /** The data points of `name` (sums and histograms), optionally only those whose attributes include `having`. */
  async points(name: string, having: Attributes = {}): Promise<Point[]> {
    const metric = (await this.metrics()).get(name);
    if (!metric) return [];
    return metric.dataPoints
      .filter((point) => Object.entries(having).every(([key, value]) => point.attributes[key] === value))
      .map((point) => {
        if (metric.dataPointType === DataPointType.HISTOGRAM) {
          const histogram = (point as HistogramMetricData['dataPoints'][number]).value;
          return {
            name,
            attributes: point.attributes,
            value: histogram.sum ?? 0,
            count: histogram.count,
            boundaries: histogram.buckets.boundaries,
          };
        }
        return { name, attributes: point.attributes, value: (point as SumMetricData['dataPoints'][number]).value };
      });
  }

  /** The sum of `name`'s points whose attributes include `having`. */
  async total(name: string, having: Attributes = {}): Promise<number> {
    return (await this.points(name, having)).reduce((sum, point) => sum + point.value, 0);
  }

  /** The spans finished so far. */
  spans(): ReadableSpan[] {
    return this.spanExporter.getFinishedSpans();
  }

  /** Forgets the spans finished so far (metrics are cumulative: tests compare before and after). */
  resetSpans(): void {
    this.spanExporter.reset();
    this.timeline.length = 0;
  }

  /** Where `span`'s start or end falls in the timeline (-1 if it is not there). */
  indexOf(event: SpanEvent['event'], span: ReadableSpan): number {
    const spanId = span.spanContext().spanId;
    return this.timeline.findIndex((entry) => entry.event === event && entry.spanId === spanId);
  }
}
