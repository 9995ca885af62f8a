import { killChildren, runScriptWithModuleLoads } from '../../../../../test/support/child-run';
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
    afterAll(killChildren);

    // An application that never installed the package, in a child process where requiring it fails as it would there.
    const start = (option: string) =>
      runScriptWithModuleLoads(
        `const { startTelemetry } = require('./libs/idempotency/src/core/telemetry/idempotency-telemetry');
try {
  console.log('telemetry: ' + String(startTelemetry(${option})));
} catch (error) {
  console.log('refused: ' + error.message);
}`,
        { WITHOUT_MODULES: '@opentelemetry/api' },
      );

    it('loads and reports to nothing', async () => {
      const run = await start('undefined');
      expect(run.output).toContain('telemetry: undefined');
      expect(run.code).toBe(0);
    }, 40_000);

    it('refuses providers it could not use, saying what to install', async () => {
      const run = await start('{ meterProvider: { getMeter: () => undefined } }');
      expect(run.output).toContain(
        'refused: Idempotency option "telemetry" names a provider, but @opentelemetry/api is not installed',
      );
    }, 40_000);
  });
});
