import { killChildren, runScriptWithModuleLoads } from '../../../../test/support/child-run';

// The fetch front end must work in an app without Nest's HTTP client, axios or the microservices package, and load
// none of them, nor Nest itself: a child process imports it and reports every one of them that gets loaded.
const OPTIONAL = ['@nestjs/axios', 'axios', '@nestjs/microservices', 'nats', '@nestjs/common', '@nestjs/core'];

const SCRIPT = `
const client = require('@nest-idempotency/core/client');
const fetchClient = client.createIdempotentFetch({ baseUrl: 'http://127.0.0.1:1' });
console.log('post: ' + typeof fetchClient.post);
console.log('key: ' + client.idempotencyKeyFor('payment', 1));
`;

describe('@nest-idempotency/core/client', () => {
  afterAll(killChildren);

  it('loads no Nest, axios or broker code, and builds a fetch client', async () => {
    const run = await runScriptWithModuleLoads(SCRIPT, { WATCH_MODULES: OPTIONAL.join(',') });
    expect(run.output).toContain('post: function');
    expect(run.output).toContain('key: payment:1');
    expect(run.output).not.toContain('loaded:');
    expect(run.code).toBe(0);
  }, 40_000);

  it('would see such a load: the watch reports @nestjs/common when the root entry is loaded', async () => {
    const run = await runScriptWithModuleLoads("require('@nest-idempotency/core')", {
      WATCH_MODULES: OPTIONAL.join(','),
    });
    expect(run.output).toContain('loaded: @nestjs/common');
  }, 40_000);
});
