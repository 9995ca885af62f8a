import { Logger } from '@nestjs/common';
import { DataSource, DataSourceOptions } from 'typeorm';

/**
 * Opens the app's DataSource and runs its pending migrations, as `migrationsRun` would, but says in the log what it
 * did: whoever starts the app sees whether this start changed the schema ("ran 2: …") or not ("none pending").
 */
export async function openMigratedDataSource(
  options: DataSourceOptions,
  logger: Pick<Logger, 'log'> = new Logger('Migrations'),
): Promise<DataSource> {
  const dataSource = await new DataSource(options).initialize();
  try {
    const ran = await dataSource.runMigrations({ transaction: options.migrationsTransactionMode ?? 'all' });
    logger.log(
      ran.length === 0
        ? 'Database schema up to date: no migration pending'
        : `Ran ${ran.length} migration${ran.length === 1 ? '' : 's'}: ${ran.map((migration) => migration.name).join(', ')}`,
    );
    return dataSource;
  } catch (error) {
    await dataSource.destroy();
    throw error;
  }
}
