import { probeServices, publishAvailableServices, TEST_SERVICES, TestService } from './services';
import { provideSkippedSuitesFile } from './skipped-suites';
import globalTeardown from './global-teardown';

/**
 * Checks once, before any suite, that Redis, PostgreSQL, MariaDB, RabbitMQ and NATS answer. Under CI=true a missing
 * service fails the whole run loudly; elsewhere the suites that need it are skipped and say so. Vitest runs what it
 * returns once every file has run.
 */
export default async function globalSetup(): Promise<() => void> {
  provideSkippedSuitesFile();
  const failures = await probeServices();
  const available = (Object.keys(failures) as TestService[]).filter((name) => failures[name] === null);
  const missing = (Object.keys(failures) as TestService[]).filter((name) => failures[name] !== null);
  publishAvailableServices(available);
  if (missing.length === 0) return globalTeardown;
  const report = missing.map((name) => `  - ${name} at ${TEST_SERVICES[name]}: ${failures[name]}`).join('\n');
  if (process.env.CI === 'true') {
    throw new Error(`Services the test suite needs are not reachable (CI=true, so this fails the run):\n${report}`);
  }
  console.warn(`\nSome services are not reachable; the suites that need them will be SKIPPED:\n${report}\n`);
  return globalTeardown;
}
