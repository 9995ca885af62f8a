import { ValueTransformer } from 'typeorm';

/**
 * Money and timestamps are BIGINT columns; PostgreSQL and MySQL drivers hand them back as strings to avoid
 * precision loss. Our values stay far below 2^53, so numbers are exact.
 */
export const bigintTransformer: ValueTransformer = {
  to: (value: number | null | undefined) => value,
  from: (value: string | number | null) => (value === null || value === undefined ? value : Number(value)),
};
