import { CacheError, type Codec, type EntryMeta, type EntryWriteMeta } from '@strata-cache/core';
import type { Tier } from './tier.js';
import type { TierSet } from './tier-set.js';

/**
 * Installs a value in every tier above `below` (exclusive) for at most each tier's `maxTtl` and `ttlMs` (whole ms,
 * rounded down; `undefined`: no expiry of its own); synchronously started, so that no invalidation slips in between.
 * A tier sharing `codec` takes `text` as it is; another gets the value (`value()`) encoded with its own codec.
 */
export function installAbove(
  set: TierSet,
  below: number,
  key: string,
  text: string,
  codec: Codec,
  ttlMs: number | undefined,
  meta: EntryWriteMeta | undefined,
  value: () => unknown,
): void {
  for (let i = 0; i < below; i++) {
    const tier = set.tiers[i]!;
    const ms = Math.floor(Math.min(ttlMs ?? Number.POSITIVE_INFINITY, tier.maxTtlMs));
    if (ms < 1) continue;
    try {
      const own = codec === tier.codec ? text : tier.codec.encode(value());
      const kept = set.failSafe.extend(ms, meta);
      const done = tier.store.set(key, { text: own, ttlMs: kept.ttlMs, meta: kept.meta });
      if (done instanceof Promise) done.catch((error: unknown) => fillFailed(set, tier, key, error));
    } catch (error) {
      fillFailed(set, tier, key, error);
    }
  }
}

/** `meta` as a copy above is written with it: its times relative to its store's clock, which says `now`. No lease travels up. */
export function metaAbove(meta: EntryMeta, now: number): EntryWriteMeta {
  const { freshUntil, writtenAt, version, tags } = meta;
  return {
    ...(freshUntil === undefined ? {} : { freshMs: freshUntil - now }),
    ...(writtenAt === undefined ? {} : { ageMs: now - writtenAt }),
    ...(version === undefined ? {} : { version }),
    ...(tags === undefined ? {} : { tags }),
  };
}

function fillFailed(set: TierSet, tier: Tier, key: string, error: unknown): void {
  // A value an upper tier cannot hold (too large for its maxBytes) simply is not cached there.
  if (!(error instanceof CacheError && error.code === 'CACHE_VALUE_TOO_LARGE'))
    set.observer.error('fill', error, tier.index);
  void set.dropUpper([key]);
}
