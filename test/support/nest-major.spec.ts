import { NestFactory } from '@nestjs/core';
import { GraphQLModule } from '@nestjs/graphql';
import { RpcException } from '@nestjs/microservices';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { killChildren, runNode, TS_NODE_PRELOAD } from './child-run';

// The run's major (scripts/on-each-nest-major.sh): every @nestjs/* package must be of it, in Vitest's imports, in
// Node's require() and in the children the suites start; and a package must be one copy, not one per loader.
const MAJOR = process.env.IDEMPOTENCY_TEST_NEST_MAJOR ?? '11';
const NEST_PACKAGES = [
  '@nestjs/common',
  '@nestjs/core',
  '@nestjs/testing',
  '@nestjs/platform-express',
  '@nestjs/platform-fastify',
  '@nestjs/microservices',
  '@nestjs/websockets',
];
// The companions' own majors: @nestjs/graphql and @nestjs/apollo 13 go with NestJS 11, 14 with 12.
const GRAPHQL_MAJOR = MAJOR === '12' ? '14' : '13';

const requireHere = createRequire(__filename);

/** The version of the package `name` that require() finds from here (Nest 12's manifests are not all exported). */
function installedVersion(name: string, resolve: (name: string) => string = requireHere.resolve): string {
  for (let dir = dirname(resolve(name)); dir !== dirname(dir); dir = dirname(dir)) {
    const manifest = join(dir, 'package.json');
    if (!existsSync(manifest)) continue;
    const { name: found, version } = JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string; version: string };
    if (found === name) return version;
  }
  throw new Error(`no package.json of ${name} above ${resolve(name)}`);
}

describe(`the run's NestJS major (${MAJOR})`, () => {
  afterAll(killChildren);

  it('is what require() loads here, for NestJS and its companions', () => {
    for (const name of NEST_PACKAGES) expect(`${name} ${installedVersion(name)}`).toMatch(`${name} ${MAJOR}.`);
    expect(installedVersion('@nestjs/graphql')).toMatch(`${GRAPHQL_MAJOR}.`);
    expect(installedVersion('@nestjs/apollo')).toMatch(`${GRAPHQL_MAJOR}.`);
  });

  it("is one copy: Vitest's imports and require() get the same classes", () => {
    expect(requireHere('@nestjs/core').NestFactory).toBe(NestFactory);
    expect(requireHere('@nestjs/microservices').RpcException).toBe(RpcException);
    expect(requireHere('@nestjs/graphql').GraphQLModule).toBe(GraphQLModule);
  });

  it('is what a child process started by a suite loads', async () => {
    const script = `for (const name of ${JSON.stringify(NEST_PACKAGES)}) console.log(name, require.resolve(name));`;
    const run = await runNode([...TS_NODE_PRELOAD, '-e', script], {}, 30_000);
    expect(run.code).toBe(0);
    const resolved = run.output.trim().split('\n');
    expect(resolved).toHaveLength(NEST_PACKAGES.length);
    for (const line of resolved) {
      const [name, path] = line.split(' ');
      expect(`${name} ${installedVersion(name, () => path)}`).toMatch(`${name} ${MAJOR}.`);
    }
  });
});
