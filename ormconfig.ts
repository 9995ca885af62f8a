import 'reflect-metadata';
import { DataSource } from 'typeorm';
import { loadAppConfig } from './apps/payments/src/config/app-config';
import { dataSourceOptions } from './apps/payments/src/database/data-source-options';

// The payments app's DataSource for the TypeORM CLI (`npm run migration:run`, `migration:generate`),
// configured by the same DATABASE_URL the app reads; without the app's statement and lock bounds, so that a
// migration on a large table is not cancelled halfway.
export default new DataSource(dataSourceOptions(loadAppConfig(process.env, () => 'unused-by-the-cli').database, null));
