import 'reflect-metadata';
import { DataSource } from 'typeorm';
import { loadAppConfig } from './apps/payments/src/config/app-config';
import { dataSourceOptions } from './apps/payments/src/database/data-source-options';

// The payments app's DataSource for the TypeORM CLI (`npm run migration:run`, `migration:generate`),
// configured by the same DATABASE_URL the app reads; without the app's statement and lock bounds, so that a
// migration on a large table is not cancelled halfway. A promise, which the CLI awaits: on a mysql:// URL the
// options depend on which server answers.
export default dataSourceOptions(loadAppConfig(process.env, () => 'unused-by-the-cli').database, null).then(
  (options) => new DataSource(options),
);
