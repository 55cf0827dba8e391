import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CacheValidationError } from '../src/errors.js';
import { MAX_TTL_MS, msToTtlSeconds, ttlToMs } from '../src/ttl.js';

describe('ttlToMs', () => {
  it.each([
    [1, 1000],
    [60, 60_000],
    [0.001, 1],
    [0.0001, 1],
    [0.0015, 2],
    [1.1, 1100],
    [0.1 + 0.2, 300],
    [59.9991, 60_000],
    [2.5, 2500],
    [9_007_199_254_740, 9_007_199_254_740_000],
  ])('converts %d s to %d ms', (seconds, ms) => {
    expect(ttlToMs(seconds)).toBe(ms);
  });

  it('treats null and undefined as no expiry', () => {
    expect(ttlToMs(undefined)).toBeUndefined();
    expect(ttlToMs(null)).toBeUndefined();
  });

  it.each([
    0,
    -0,
    -1,
    Number.NaN,
    Number.POSITIVE_INFINITY,
    Number.NEGATIVE_INFINITY,
    '10',
    true,
    {},
    10n,
    9_007_199_254_741,
  ])('refuses %s naming ttl', (ttl) => {
    const error = (() => {
      try {
        ttlToMs(ttl);
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(CacheValidationError);
    expect((error as CacheValidationError).argument).toBe('ttl');
    expect((error as CacheValidationError).code).toBe('CACHE_INVALID_TTL');
  });

  it('always rounds up to a whole millisecond, never down', () => {
    fc.assert(
      fc.property(fc.double({ min: 1e-6, max: 1e9, noNaN: true }), (seconds) => {
        const ms = ttlToMs(seconds)!;
        expect(Number.isInteger(ms)).toBe(true);
        expect(ms).toBeGreaterThanOrEqual(1);
        // within a few ulps of the exact product, and never more than one millisecond above it
        expect(ms).toBeGreaterThanOrEqual(seconds * 1000 * (1 - 8 * Number.EPSILON));
        expect(ms).toBeLessThan(seconds * 1000 + 1);
        expect(ms).toBeLessThanOrEqual(MAX_TTL_MS);
      }),
    );
  });
});

describe('msToTtlSeconds', () => {
  it('rounds up, and reports at least 1 for a live key', () => {
    expect(msToTtlSeconds(60_000)).toBe(60);
    expect(msToTtlSeconds(59_001)).toBe(60);
    expect(msToTtlSeconds(59_000)).toBe(59);
    expect(msToTtlSeconds(1)).toBe(1);
    expect(msToTtlSeconds(0)).toBe(1);
  });
});
