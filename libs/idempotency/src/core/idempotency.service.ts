import { Inject, Injectable, Logger, OnModuleDestroy, Optional } from '@nestjs/common';
import { createHash } from 'node:crypto';
import { CompletedRecordCaches } from './completed-record-cache';
import { IdempotencyEventEmitter } from './event-emitter';
import { canonicalize } from './fingerprint';
import { IdempotencyEvent } from '../options/idempotency.events';
import { IdempotencyExecutor } from './idempotency.executor';
import { IdempotencyKeyInvalidError, IdempotencyKeyMissingError } from './idempotency.errors';
import { parseIdempotencyKey } from './idempotency-key';
import { IdempotentCall, IdempotentExecution } from './idempotent-call';
import {
  IdempotencyForgetLookup,
  IdempotencyRecordInspection,
  IdempotencyRecordLookup,
  RecordInspection,
} from './record-inspection';
import { describeError } from '../util/describe-error';
import { CallSource } from './telemetry/call-source';
import { startTelemetry } from './telemetry/idempotency-telemetry';
import { ResponseCodec } from './response-codec';
import { HandlerOptionsRegistry } from '../options/handler-options.registry';
import { IdempotencyConfiguration } from '../options/idempotency-configuration';
import {
  IdempotencyModuleOptions,
  IdempotentRouteOptions,
  ResolvedIdempotencyOptions,
} from '../options/idempotency-options.interface';
import { IdempotencyForgetResult } from '../stores/idempotency-store';

/** Options of `IdempotencyService.run()`. */
export interface IdempotentRunOptions extends Pick<
  IdempotentRouteOptions,
  'store' | 'ttl' | 'lockTimeout' | 'onConflict' | 'failOpen' | 'keyPrefix' | 'maxResponseBytes'
> {
  /** Whose key it is (a tenant, a producer); records of two scopes never meet. Default none. */
  scope?: string;
  /** What the key stands for (the message's payload, say): the same key with another value → mismatch error. */
  fingerprint?: unknown;
  /** Name in events, logs and telemetry (`idempotency.route`): a constant, not a value per call. Default `run`. */
  name?: string;
}

/**
 * The library's service: the module's options, `run()` for message consumers and jobs, and the protocol's one
 * engine (`IdempotencyExecutor`) that every transport hands its calls to. Inject it to protect work that is not a
 * route or a handler.
 */
@Injectable()
export class IdempotencyService implements OnModuleDestroy {
  /** The module's options with every default filled in. */
  readonly defaults: ResolvedIdempotencyOptions;
  /** Each guarded handler's options, filled at start-up, read by the transports. */
  readonly handlers: HandlerOptionsRegistry;
  private readonly configuration: IdempotencyConfiguration;
  private readonly events: IdempotencyEventEmitter;
  private readonly executor: IdempotencyExecutor;
  private readonly records: RecordInspection;

  /** In the module, the configuration it provides; built by hand, the module's options (resolved here). */
  constructor(
    @Optional()
    @Inject(IdempotencyConfiguration)
    configuration: IdempotencyConfiguration | IdempotencyModuleOptions = {},
  ) {
    this.configuration =
      configuration instanceof IdempotencyConfiguration
        ? configuration
        : new IdempotencyConfiguration(configuration ?? {});
    const options = this.configuration.moduleOptions;
    const logger = new Logger('Idempotency');
    this.defaults = this.configuration.defaults;
    this.handlers = this.configuration.handlers;
    this.events = new IdempotencyEventEmitter(options.events, logger, startTelemetry(options.telemetry));
    const localCaches = options.localCache ? new CompletedRecordCaches(options.localCache) : undefined;
    const codec = new ResponseCodec(options.compression, options.encryption);
    this.executor = new IdempotencyExecutor(this.events, logger, localCaches, codec);
    this.records = new RecordInspection((overrides) => this.resolve(overrides), localCaches, codec);
  }

  /**
   * Makes one last attempt at every deferred release and completion (bounded), then stops retrying. The stores
   * close later, in `onApplicationShutdown`, so these attempts still reach them.
   */
  onModuleDestroy(): Promise<void> {
    return this.executor.stop();
  }

  /** The module defaults overridden by a route's (or a call's) options, validated. */
  resolve(overrides?: IdempotentRouteOptions): ResolvedIdempotencyOptions {
    return this.configuration.resolve(overrides);
  }

  /**
   * Runs `work` at most once per `key` while its record lives, for message consumers and jobs. A repeat
   * returns the first run's result (as JSON: results must be JSON-serialisable); a concurrent repeat throws
   * `IdempotencyInProgressError` (or waits, with `onConflict: { wait }`); a failure is not stored, so
   * the next delivery runs again.
   */
  async run<T>(key: string, work: () => T | Promise<T>, options: IdempotentRunOptions = {}): Promise<T> {
    const name = options.name ?? 'run';
    const scope = options.scope ?? '';
    const { scope: _scope, fingerprint: _fingerprint, name: _name, ...overrides } = options;
    const resolved = this.resolve(overrides);
    const parsed = parseIdempotencyKey(key);
    if (parsed.status !== 'valid') {
      const outcome = parsed.status === 'missing' ? 'missing_key' : 'invalid_key';
      this.emit({ outcome, route: name, scope }, { transport: 'run', route: name, options: resolved });
      throw parsed.status === 'missing'
        ? new IdempotencyKeyMissingError()
        : new IdempotencyKeyInvalidError(parsed.reason);
    }
    const execution = await this.execute({
      id: { namespace: resolved.keyPrefix, scope, key: parsed.key },
      fingerprint: options.fingerprint === undefined ? '' : sha256(canonicalize(options.fingerprint)),
      route: name,
      transport: 'run',
      options: resolved,
      work: async () => {
        try {
          const value = await work();
          return { result: { value }, keep: { store: { value } } };
        } catch (error) {
          return { result: { error }, keep: { release: 'released', reason: describeError(error) } };
        }
      },
    });
    if (execution.kind === 'replayed') return (execution.stored as { value: T }).value;
    const { result } = execution.settlement;
    if ('error' in result) throw result.error;
    return result.value as T;
  }

  /**
   * The protocol for one call, as a transport describes it. Throws `IdempotencyKeyMismatchError`,
   * `IdempotencyInProgressError` and `IdempotencyStoreUnavailableError`; everything else is in the result.
   */
  execute(call: IdempotentCall): Promise<IdempotentExecution> {
    return this.executor.execute(call);
  }

  /**
   * The record under a key, as the store holds it now, or undefined when there is none: why a request was
   * replayed, or whether one still runs. Throws `IdempotencyKeyInvalidError` for a key no request could send.
   */
  inspect(lookup: IdempotencyRecordLookup): Promise<IdempotencyRecordInspection | undefined> {
    return this.records.inspect(lookup);
  }

  /**
   * Deletes the record under a key, so the next request with it runs the work again (and does again whatever the
   * work does: a second payment). A running request's record is deleted only with `force`; else `in_flight`.
   */
  forget(lookup: IdempotencyForgetLookup): Promise<IdempotencyForgetResult> {
    return this.records.forget(lookup);
  }

  /**
   * Sends an event to the `events` hook (a throwing listener is logged, never allowed to fail a request) and, when
   * `source` says which call it is about, to the OpenTelemetry instruments.
   */
  emit(event: IdempotencyEvent, source?: CallSource): void {
    this.events.emit(event, source);
  }
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
