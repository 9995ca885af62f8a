import { HttpModule, HttpService } from '@nestjs/axios';
import { Test } from '@nestjs/testing';
import {
  createIdempotentFetch,
  createIdempotentHttpClient,
  IdempotentClient,
  IdempotentClientOptions,
} from '@nest-idempotency/core/client';

/** Makes a client with the given options; what each front end's setup returns. */
export type ClientFactory = (options: IdempotentClientOptions) => IdempotentClient;

/**
 * The client's two front ends, for `describe.each`: the same suite runs on both, so both behave the same. The
 * HttpService is the one Nest's `HttpModule` provides, as an app would inject it.
 */
export const FRONT_ENDS: readonly [name: string, setUp: () => Promise<ClientFactory>][] = [
  ['fetch', async () => (options) => createIdempotentFetch(options)],
  [
    'HttpService',
    async () => {
      const moduleRef = await Test.createTestingModule({ imports: [HttpModule] }).compile();
      const httpService = moduleRef.get(HttpService);
      return (options) => createIdempotentHttpClient(httpService, options);
    },
  ],
];
