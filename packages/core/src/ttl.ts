import { CacheValidationError } from './errors.js';

/** The longest TTL accepted, in milliseconds (2^53 − 1). */
export const MAX_TTL_MS: number = Number.MAX_SAFE_INTEGER;

/**
 * Validates a TTL in seconds and converts it to whole milliseconds, rounding up (at least 1 ms);
 * `null`/`undefined` (no expiry) give `undefined`.
 * @throws {CacheValidationError} naming `ttl` (code `CACHE_INVALID_TTL`) for anything but a finite number > 0
 * whose milliseconds fit in 2^53 − 1.
 */
export function ttlToMs(ttl: unknown): number | undefined {
  if (ttl === undefined || ttl === null) return undefined;
  if (typeof ttl !== 'number') {
    throw new CacheValidationError(
      'ttl',
      `expected a number of seconds, got ${ttl === null ? 'null' : typeof ttl}`,
      'CACHE_INVALID_TTL',
    );
  }
  if (!(ttl > 0) || ttl === Number.POSITIVE_INFINITY) {
    throw new CacheValidationError(
      'ttl',
      `expected a finite number of seconds > 0, got ${ttl}`,
      'CACHE_INVALID_TTL',
    );
  }
  const exact = ttl * 1000;
  // Binary floating point makes 1.1 * 1000 = 1100.0000000000002: treat a product within a few ulps of a whole
  // number as that number, so decimal fractions of a second convert as users write them.
  const nearest = Math.round(exact);
  const ms = Math.abs(exact - nearest) <= exact * 4 * Number.EPSILON ? nearest : Math.ceil(exact);
  if (ms > MAX_TTL_MS) {
    throw new CacheValidationError('ttl', `${ttl} s is more than 2^53 - 1 milliseconds`, 'CACHE_INVALID_TTL');
  }
  return Math.max(1, ms);
}

/** Converts a remaining time in milliseconds to the whole seconds `ttl()` reports: rounded up, at least 1. */
export function msToTtlSeconds(remainingMs: number): number {
  return Math.max(1, Math.ceil(remainingMs / 1000));
}
