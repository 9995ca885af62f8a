import { IdempotencyAcquireResult, IdempotencyRecordSnapshot } from '../idempotency-store';
import { IDEMPOTENCY_RECORD_MAX_BYTES } from './idempotency-record.entity';

/** An existing row as acquire reports it: times are left relative to the database's "now". */
export interface ExistingRecord {
  fingerprint: string;
  response: string | null;
  leaseLeftMs: number;
  ttlLeftMs: number;
}

/**
 * What acquire reports for a row it did not win: undefined when that row no longer blocks this request (gone,
 * expired, or a lease this fingerprint may take over), so acquire decides again instead of reporting a stale state.
 */
export function blockingResult(
  record: ExistingRecord | undefined,
  fingerprint: string,
): IdempotencyAcquireResult | undefined {
  if (!record || record.ttlLeftMs <= 0) return undefined;
  if (record.response != null)
    return { state: 'completed', fingerprint: record.fingerprint, response: record.response };
  if (record.leaseLeftMs <= 0 && record.fingerprint === fingerprint) return undefined;
  return { state: 'in_flight', fingerprint: record.fingerprint, retryAfterMs: Math.max(0, record.leaseLeftMs) };
}

/** The row a statement read with its absolute times (null columns when there was none), relative to `now`. */
export function existingRecord(row: Record<string, unknown>, now: number): ExistingRecord | undefined {
  if (row.expires_at == null) return undefined;
  return {
    fingerprint: utf8(row.fingerprint),
    response: row.response == null ? null : utf8(row.response),
    leaseLeftMs: Number(row.lease_until) - now,
    ttlLeftMs: Number(row.expires_at) - now,
  };
}

/** The row a `readExisting` statement read, its times already left relative to the database's "now". */
export function existingRecordLeft(row: Record<string, unknown> | undefined): ExistingRecord | undefined {
  if (!row) return undefined;
  return {
    fingerprint: utf8(row.fingerprint),
    response: row.response == null ? null : utf8(row.response),
    leaseLeftMs: Number(row.lease_left),
    ttlLeftMs: Number(row.ttl_left),
  };
}

/** A live row as `inspect` reports it (`fingerprint`, `response`, `lease_until`, `expires_at`); none: undefined. */
export function recordSnapshot(row: Record<string, unknown> | undefined): IdempotencyRecordSnapshot | undefined {
  if (!row) return undefined;
  const fingerprint = utf8(row.fingerprint);
  const expiresAt = Number(row.expires_at);
  if (row.response != null) return { state: 'completed', fingerprint, response: utf8(row.response), expiresAt };
  return { state: 'in_flight', fingerprint, leaseExpiresAt: Number(row.lease_until), expiresAt };
}

/** Refuses values longer than their columns: a database could truncate them silently, and truncated ids collide. */
export function checkLength(column: keyof typeof IDEMPOTENCY_RECORD_MAX_BYTES, value: string): void {
  const max = IDEMPOTENCY_RECORD_MAX_BYTES[column];
  // A UTF-8 character takes at most 3 bytes per UTF-16 unit: short strings (every key is) skip the byte count.
  if (value.length * 3 <= max) return;
  const bytes = Buffer.byteLength(value, 'utf8');
  if (bytes > max) {
    throw new RangeError(
      `TypeOrmIdempotencyStore: the ${column} is ${bytes} bytes long (UTF-8) but its column holds at most ${max}; ` +
        `refusing it rather than storing it truncated`,
    );
  }
}

/** A duration in whole milliseconds, as the columns hold them; refuses what is not a finite number. */
export function durationMs(name: string, value: number): number {
  if (!Number.isFinite(value))
    throw new RangeError(`TypeOrmIdempotencyStore: ${name} must be a finite number, got ${value}`);
  // Rounding up never shortens a lease.
  return Math.max(0, Math.ceil(value));
}

/** MySQL hands VARBINARY columns back as Buffers; every value was written from a UTF-8 string. */
export function utf8(value: unknown): string {
  return Buffer.isBuffer(value) ? value.toString('utf8') : String(value);
}
