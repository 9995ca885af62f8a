import { Global, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { IdempotencyTransaction } from '@nest-idempotency/core/typeorm';
import { APP_CONFIG } from '../config/app-config.module';
import { AppConfig } from '../config/app-config';
import { dataSourceOptions } from './data-source-options';
import { DatabaseService } from './database.service';

/** The app's database (DATABASE_URL), migrated at start-up, and the `DatabaseService` over it. */
@Global()
@Module({
  imports: [
    TypeOrmModule.forRootAsync({
      inject: [APP_CONFIG],
      useFactory: async (config: AppConfig) => ({ ...(await dataSourceOptions(config.database)), migrationsRun: true }),
    }),
  ],
  providers: [DatabaseService, IdempotencyTransaction],
  exports: [DatabaseService],
})
export class DatabaseModule {}
