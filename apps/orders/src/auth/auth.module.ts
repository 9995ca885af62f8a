import { Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { CallerKeyGuard } from './caller-key.guard';

/** Every route needs a caller's key. */
@Module({ providers: [{ provide: APP_GUARD, useClass: CallerKeyGuard }] })
export class AuthModule {}
