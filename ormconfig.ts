import 'reflect-metadata';
import { DataSource } from 'typeorm';
import { loadAppConfig } from './apps/payments/src/config/app-config';
import { dataSourceOptions } from './apps/payments/src/database/data-source-options';

// The payments app's DataSource for the TypeORM CLI (`npm run migration:run`, `migration:generate`),
// configured by the same DATABASE_URL the app reads. A promise, which the CLI awaits: on a mysql:// URL the
// options depend on which server answers.
export default dataSourceOptions(loadAppConfig(process.env, () => 'unused-by-the-cli').database).then((options) => new DataSource(options));
