import { LoggerService } from '@nestjs/common';

/** What the application logged as errors and warnings, for tests that hold the library to what it says. */
export interface CapturedLogs {
  /** Give to `app.useLogger()`. */
  logger: LoggerService;
  errors: string[];
  warnings: string[];
  /** Forgets what was logged, between tests. */
  clear(): void;
}

/** A logger that keeps errors and warnings and drops the rest. */
export function captureLogs(): CapturedLogs {
  const errors: string[] = [];
  const warnings: string[] = [];
  return {
    logger: {
      log() {},
      error: (message) => errors.push(String(message)),
      warn: (message) => warnings.push(String(message)),
      debug() {},
      verbose() {},
    },
    errors,
    warnings,
    clear() {
      errors.length = 0;
      warnings.length = 0;
    },
  };
}
