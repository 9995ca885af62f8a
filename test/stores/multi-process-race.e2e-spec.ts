import { ChildProcess, fork } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join, resolve } from 'node:path';
import { CreateIdempotencyRecords1764259200000 } from '@nest-idempotency/core/typeorm';
import { describeWithServices, TEST_SERVICES } from '../support/services';
import { createIsolatedDatabase, IsolatedDatabase } from '../support/typeorm-data-sources';

const WORKERS = 4;
const KEYS = Array.from({ length: 200 }, (_, i) => `order-${i}`);

type Reply = { type: string; worker: string; keys?: string[]; seen?: Record<string, string>; message?: string };

/** Four Node processes, each with its own connection, as four app instances sharing one store. */
class Workers {
  private readonly children: ChildProcess[] = [];

  async start(env: Record<string, string>): Promise<void> {
    for (let i = 0; i < WORKERS; i++) {
      const child = fork(join(__dirname, 'multi-process', 'race-worker.ts'), [], {
        cwd: resolve(__dirname, '../..'),
        execArgv: ['-r', 'ts-node/register/transpile-only', '-r', 'tsconfig-paths/register'],
        env: { ...process.env, ...env, RACE_WORKER: String(i), TS_NODE_PROJECT: 'tsconfig.json' },
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      });
      this.children.push(child);
    }
    await this.collect('ready');
  }

  /** Sends one message to every worker at once and gathers one reply of `type` from each. */
  async broadcast(message: object, type: string): Promise<Reply[]> {
    const replies = this.collect(type);
    for (const child of this.children) child.send(message);
    return replies;
  }

  async stop(): Promise<void> {
    await Promise.all(
      this.children.map(
        (child) =>
          new Promise<void>((done) => {
            if (child.exitCode !== null) return done();
            const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
            child.once('exit', () => {
              clearTimeout(timer);
              done();
            });
            child.send({ type: 'exit' });
          }),
      ),
    );
  }

  private collect(type: string): Promise<Reply[]> {
    return new Promise((done, fail) => {
      const replies: Reply[] = [];
      const timer = setTimeout(() => fail(new Error(`workers did not all answer "${type}" within 60 s`)), 60_000);
      for (const child of this.children) {
        const onMessage = (reply: Reply) => {
          if (reply.type === 'error') fail(new Error(`worker ${reply.worker}: ${reply.message}`));
          if (reply.type !== type) return;
          child.off('message', onMessage);
          replies.push(reply);
          if (replies.length === this.children.length) {
            clearTimeout(timer);
            done(replies);
          }
        };
        child.on('message', onMessage);
        child.once('exit', (code) => code !== 0 && fail(new Error(`a worker exited with ${code}`)));
      }
    });
  }
}

function describeRace(
  name: string,
  services: ('redis' | 'postgres')[],
  setUp: () => Promise<{ env: Record<string, string>; tearDown: () => Promise<void> }>,
) {
  describeWithServices(services, `4 processes racing on 200 keys through ${name}`, () => {
    const workers = new Workers();
    let tearDown: (() => Promise<void>) | undefined;

    beforeAll(async () => {
      const prepared = await setUp();
      tearDown = prepared.tearDown;
      await workers.start(prepared.env);
    }, 90_000);
    afterAll(async () => {
      await workers.stop();
      await tearDown?.();
    }, 30_000);

    it('gives every key exactly one winner across all processes, and every process sees that winner', async () => {
      const namespace = `race-${randomUUID()}`;
      const won = await workers.broadcast({ type: 'go', namespace, keys: KEYS }, 'won');
      const winners = new Map<string, string[]>();
      for (const reply of won)
        for (const key of reply.keys!) winners.set(key, [...(winners.get(key) ?? []), reply.worker]);
      expect([...winners.keys()].sort()).toEqual([...KEYS].sort());
      expect([...winners.values()].filter((workersOfKey) => workersOfKey.length > 1)).toEqual([]);
      // Each process must have won some: otherwise the "race" ran one process at a time.
      expect(won.filter((reply) => reply.keys!.length > 0).length).toBeGreaterThan(1);

      const seen = await workers.broadcast({ type: 'check', namespace, keys: KEYS }, 'seen');
      for (const reply of seen) {
        for (const key of KEYS) expect(reply.seen![key]).toBe(winners.get(key)![0]);
      }
    });
  });
}

describeRace('Redis', ['redis'], async () => ({
  env: { RACE_STORE: 'redis', RACE_REDIS_URL: TEST_SERVICES.redis },
  tearDown: async () => undefined,
}));

describeRace('PostgreSQL', ['postgres'], async () => {
  const database: IsolatedDatabase = await createIsolatedDatabase('postgres');
  const dataSource = await database.connect({ migrations: [CreateIdempotencyRecords1764259200000] });
  await dataSource.runMigrations();
  const options = database.options as { schema: string };
  return {
    env: { RACE_STORE: 'postgres', RACE_POSTGRES_URL: TEST_SERVICES.postgres, RACE_POSTGRES_SCHEMA: options.schema },
    tearDown: () => database.drop(),
  };
});
