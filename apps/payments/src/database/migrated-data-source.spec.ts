import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dataSourceOptions } from './data-source-options';
import { openMigratedDataSource } from './migrated-data-source';

describe('openMigratedDataSource', () => {
  const directory = mkdtempSync(join(tmpdir(), 'payments-migrations-'));
  afterAll(() => rmSync(directory, { recursive: true, force: true }));

  it('says how many migrations it ran, then that none is pending', async () => {
    const options = await dataSourceOptions({ type: 'sqlite', path: join(directory, 'payments.sqlite') });
    const lines: string[] = [];
    const logger = { log: (line: string) => void lines.push(line) };

    const first = await openMigratedDataSource(options, logger);
    const applied = await first.query('SELECT COUNT(*) AS count FROM migrations');
    await first.destroy();
    const second = await openMigratedDataSource(options, logger);
    await second.destroy();

    expect(lines).toEqual([
      expect.stringMatching(new RegExp(`^Ran ${applied[0].count} migrations: CreatePaymentsSchema1764201600000, `)),
      'Database schema up to date: no migration pending',
    ]);
  });
});
