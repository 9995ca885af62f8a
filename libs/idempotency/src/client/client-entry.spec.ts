// The fetch front end must work in an app without Nest's HTTP client, axios or the microservices package, and load
// none of them: each is replaced by a module that fails the test if it is ever required.
const loaded: string[] = [];
for (const name of ['@nestjs/axios', 'axios', '@nestjs/microservices', 'nats', '@nestjs/common', '@nestjs/core']) {
  jest.doMock(name, () => {
    loaded.push(name);
    return {};
  });
}

describe('@nest-idempotency/core/client', () => {
  it('loads no Nest, axios or broker code, and builds a fetch client', async () => {
    const client = await import('@nest-idempotency/core/client');
    const fetchClient = client.createIdempotentFetch({ baseUrl: 'http://127.0.0.1:1' });
    expect(typeof fetchClient.post).toBe('function');
    expect(client.idempotencyKeyFor('payment', 1)).toBe('payment:1');
    expect(loaded).toEqual([]);
  });
});
