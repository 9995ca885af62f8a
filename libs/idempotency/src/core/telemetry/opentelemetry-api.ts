import type * as OpenTelemetryApi from '@opentelemetry/api';

/** The `@opentelemetry/api` module, as `require` gives it. */
export type OpenTelemetryApiModule = typeof OpenTelemetryApi;

/**
 * `@opentelemetry/api` when it is installed, else undefined: it is an optional peer dependency, so it is required
 * here, when the module starts, rather than imported, and an application without it loads and runs unchanged. Any
 * other failure to load it (a broken install) is thrown, not mistaken for its absence.
 */
export function loadOpenTelemetryApi(): OpenTelemetryApiModule | undefined {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require('@opentelemetry/api');
  } catch (error) {
    if ((error as { code?: unknown })?.code === 'MODULE_NOT_FOUND' && isAbout(error, '@opentelemetry/api')) {
      return undefined;
    }
    throw error;
  }
}

function isAbout(error: unknown, name: string): boolean {
  return error instanceof Error && error.message.includes(`'${name}'`);
}
