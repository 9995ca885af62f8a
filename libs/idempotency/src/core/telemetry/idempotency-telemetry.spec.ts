import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { startTelemetry } from './idempotency-telemetry';

describe('startTelemetry', () => {
  it('reports to nothing without an SDK: the global providers are the no-op ones', () => {
    expect(startTelemetry(undefined)).toBeUndefined();
    expect(startTelemetry(false)).toBeUndefined();
  });

  it('reports metrics to a meter provider given, and traces to none when no tracer provider is there', () => {
    const telemetry = startTelemetry({ meterProvider: new MeterProvider() });
    expect(telemetry?.metrics).toBeDefined();
    expect(telemetry?.tracing).toBeUndefined();
  });

  describe('without @opentelemetry/api installed', () => {
    const start = (option: Parameters<typeof startTelemetry>[0]) => {
      let result: ReturnType<typeof startTelemetry>;
      jest.isolateModules(() => {
        jest.doMock('@opentelemetry/api', () => {
          throw Object.assign(new Error("Cannot find module '@opentelemetry/api' from 'opentelemetry-api.ts'"), {
            code: 'MODULE_NOT_FOUND',
          });
        });
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        result = require('./idempotency-telemetry').startTelemetry(option);
      });
      jest.dontMock('@opentelemetry/api');
      return result;
    };

    it('loads and reports to nothing', () => {
      expect(start(undefined)).toBeUndefined();
    });

    it('refuses providers it could not use, saying what to install', () => {
      expect(() => start({ meterProvider: new MeterProvider() })).toThrow(
        'Idempotency option "telemetry" names a provider, but @opentelemetry/api is not installed',
      );
    });
  });
});
