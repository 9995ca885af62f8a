import { DynamicModule, Module } from '@nestjs/common';
import { AdminModule } from './admin/admin.module';
import { AuthModule } from './auth/auth.module';
import { AppConfig } from './config/app-config';
import { AppConfigModule } from './config/app-config.module';
import { CustomersModule } from './customers/customers.module';
import { DatabaseModule } from './database/database.module';
import { HealthModule } from './health/health.module';
import { PaymentsIdempotencyModule } from './idempotency/payments-idempotency.module';
import { MetricsModule } from './metrics/metrics.module';
import { PaymentRequestsModule } from './payment-requests/payment-requests.module';
import { PaymentsModule } from './payments/payments.module';

/** The payments service (README, The payments app), built from a configuration loaded at start-up. */
@Module({})
export class AppModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        AppConfigModule.forRoot(config),
        DatabaseModule,
        MetricsModule,
        PaymentsIdempotencyModule,
        AuthModule,
        CustomersModule,
        PaymentsModule,
        HealthModule,
        // The consumer's handler is registered only where messages come; without AMQP_URL no transport would
        // reach it, and the HTTP app stays as it is.
        ...(config.amqp ? [PaymentRequestsModule] : []),
        // Without ADMIN_API_KEY the admin routes do not exist at all (404), rather than exist and refuse everyone.
        ...(config.adminApiKey ? [AdminModule] : []),
      ],
    };
  }
}
