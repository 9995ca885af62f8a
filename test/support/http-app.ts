import { INestApplication, ModuleMetadata, NestApplicationOptions } from '@nestjs/common';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';

/** The HTTP platforms every e2e suite runs on, for `describe.each`. */
export const HTTP_ADAPTERS = [
  ['express', () => new ExpressAdapter()],
  ['fastify', () => new FastifyAdapter()],
] as const;

export type AdapterFactory = (typeof HTTP_ADAPTERS)[number][1];

/** A Nest app listening on a real loopback port, and its base URL for supertest. */
export interface RunningApp {
  app: INestApplication;
  url: string;
  close: () => Promise<void>;
}

/** Compiles `metadata` into an app on the given platform and starts it on 127.0.0.1 (a free port). */
export async function startHttpApp(
  metadata: ModuleMetadata,
  adapter: AdapterFactory,
  options: NestApplicationOptions = {},
): Promise<RunningApp> {
  const moduleRef = await Test.createTestingModule(metadata).compile();
  const app = moduleRef.createNestApplication(adapter(), { logger: false, ...options });
  await app.listen(0, '127.0.0.1');
  const url = (await app.getUrl()).replace('[::1]', '127.0.0.1');
  return { app, url, close: () => app.close() };
}

/** Compiles `metadata` into an app that does not listen and initialises it; closes it again if start-up fails. */
export async function initApp(metadata: ModuleMetadata): Promise<INestApplication> {
  const moduleRef = await Test.createTestingModule(metadata).compile();
  const app = moduleRef.createNestApplication({ logger: false });
  try {
    await app.init();
  } catch (error) {
    await app.close();
    throw error;
  }
  return app;
}

/** Initialises the app (so the start-up checks run), then closes it; rejects as start-up does. */
export async function bootAndClose(metadata: ModuleMetadata): Promise<void> {
  const app = await initApp(metadata);
  await app.close();
}
