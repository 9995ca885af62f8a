// Nest 12's constants modules load @nestjs/common, whose decorators need the Reflect metadata API on import.
import 'reflect-metadata';
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import * as graphqlConstants from '@nestjs/graphql/dist/graphql.constants';
import * as microservicesConstants from '@nestjs/microservices/constants';
import * as websocketsConstants from '@nestjs/websockets/constants';
import { HANDLER_METADATA_KEYS } from './idempotency-handler-kind';

describe('handler kinds', () => {
  it("reads the optional packages' metadata under their own keys", () => {
    expect(HANDLER_METADATA_KEYS).toMatchObject({
      messagePattern: microservicesConstants.PATTERN_METADATA,
      messageHandlerType: microservicesConstants.PATTERN_HANDLER_METADATA,
      gateway: websocketsConstants.GATEWAY_METADATA,
      gatewayMessage: websocketsConstants.MESSAGE_MAPPING_METADATA,
      resolverType: graphqlConstants.RESOLVER_TYPE_METADATA,
      resolveField: graphqlConstants.RESOLVER_PROPERTY_METADATA,
      resolveReference: graphqlConstants.RESOLVER_REFERENCE_METADATA,
    });
  });

  it('loads neither GraphQL nor Apollo with the library, its module and an HTTP app', () => {
    const root = resolve(__dirname, '../../../..');
    const script = `
      const { NestFactory } = require('@nestjs/core');
      const { Module } = require('@nestjs/common');
      const { IdempotencyModule } = require('@nest-idempotency/core');
      class AppModule {}
      Module({ imports: [IdempotencyModule.forRoot({})] })(AppModule);
      NestFactory.create(AppModule, { logger: false }).then(async (app) => {
        await app.init();
        await app.close();
        const loaded = Object.keys(require.cache).filter((file) =>
          /node_modules[\\\\/](graphql|@nestjs[\\\\/](graphql|apollo)|@apollo)[\\\\/]/.test(file));
        console.log(JSON.stringify(loaded));
      });
    `;
    const child = spawnSync(
      process.execPath,
      ['-r', 'ts-node/register/transpile-only', '-r', 'tsconfig-paths/register', '-e', script],
      { cwd: root, encoding: 'utf8', timeout: 60_000, env: { ...process.env, TS_NODE_PROJECT: 'tsconfig.json' } },
    );
    expect(child.stderr).toBe('');
    expect(JSON.parse(child.stdout.trim().split('\n').pop() ?? 'null')).toEqual([]);
  }, 60_000);
});
