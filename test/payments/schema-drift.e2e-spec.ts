import { execFile } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { describeWithServices } from '../support/services';
import { THROWAWAY_DATABASES } from './payments-harness';

const run = promisify(execFile);
const REPO_ROOT = resolve(__dirname, '../..');

/** Runs the TypeORM CLI on ormconfig.ts as `npm run migration:*` does; resolves with its exit code and output. */
async function typeormCli(databaseUrl: string, ...args: string[]): Promise<{ code: number; output: string }> {
  const cli = [
    '-r',
    'ts-node/register/transpile-only',
    '-r',
    'tsconfig-paths/register',
    './node_modules/typeorm/cli.js',
  ];
  try {
    const { stdout, stderr } = await run(process.execPath, [...cli, ...args, '-d', 'ormconfig.ts'], {
      cwd: REPO_ROOT,
      env: { ...process.env, TS_NODE_PROJECT: 'tsconfig.json', DATABASE_URL: databaseUrl },
      timeout: 60_000,
    });
    return { code: 0, output: stdout + stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    return { code: failed.code ?? -1, output: `${failed.stdout ?? ''}${failed.stderr ?? ''}` };
  }
}

const DATABASES = [THROWAWAY_DATABASES.sqlite, THROWAWAY_DATABASES.postgres, THROWAWAY_DATABASES.mariadb];

/**
 * The migrations and the entities describe one schema: after every migration has run, `migration:generate`
 * finds nothing to generate. On MariaDB this covers the collation change (which TypeORM does not compare) and
 * the nullable columns' defaults (which it misreads unless it knows the server is MariaDB).
 */
for (const database of DATABASES) {
  describeWithServices(database.services, `the payments schema on ${database.name}`, () => {
    let scratch: { url: string; drop: () => Promise<void> };
    beforeAll(async () => {
      scratch = await database.create();
    });
    afterAll(() => scratch?.drop());

    it('shows no drift between the migrations and the entities', async () => {
      const migrated = await typeormCli(scratch.url, 'migration:run');
      expect(migrated).toMatchObject({ code: 0 });
      const generated = await typeormCli(
        scratch.url,
        'migration:generate',
        join(tmpdir(), 'payments-drift'),
        '--check',
      );
      expect(generated.output).toContain('No changes in database schema were found');
      expect(generated.code).toBe(0);
    }, 120_000);
  });
}
