import { DynamicModule, Global, Module } from '@nestjs/common';
import { AppConfig } from './app-config';

/** DI token of the loaded `AppConfig`. */
export const APP_CONFIG = Symbol('APP_CONFIG');

/** Makes the configuration loaded at start-up injectable everywhere. */
@Global()
@Module({})
export class AppConfigModule {
  static forRoot(config: AppConfig): DynamicModule {
    return { module: AppConfigModule, providers: [{ provide: APP_CONFIG, useValue: config }], exports: [APP_CONFIG] };
  }
}
