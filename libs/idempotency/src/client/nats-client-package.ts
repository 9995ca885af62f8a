/**
 * The NATS client `@nestjs/microservices` itself loads, so that the headers are the kind its transport sends:
 * `@nats-io/transport-node` from NestJS 12 on, `nats` before. Both can be installed side by side; the major decides.
 */
export function natsClientPackage(): string {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { version } = require('@nestjs/common/package.json') as { version: string };
  return Number.parseInt(version, 10) >= 12 ? '@nats-io/transport-node' : 'nats';
}
