import {
  type EntryWrite,
  type EntryWriteMeta,
  encodeFor,
  type Invalidation,
  type InvalidationBus,
  plainWrite,
  type ResolvedSetOptions,
  tagVersionsOf,
  writtenTtl,
} from '@strata-cache/core';
import type { Coherence } from './coherence.js';
import { installAbove } from './fill.js';
import { newVersion } from './lease.js';
import type { TierSet } from './tier-set.js';

/** What a write installs above the last tier once it took effect: per key its text (the last tier's codec) and value. */
interface Fill {
  readonly texts: readonly string[];
  readonly values: readonly unknown[];
  readonly ttlMs: number | undefined;
  /** Metadata of the written entry, its times relative to the write's start. */
  readonly meta?: EntryWriteMeta | undefined;
}

/**
 * Writes of keys: the value is encoded once, in the last tier's codec; the copies above are dropped while the last
 * tier is written; the change is announced to other instances (by the last tier itself, in the command that writes,
 * when it announces on this cache's bus; otherwise published once the write took effect); then what was written is
 * installed above, unless any other change of the key came in meanwhile. If the last tier fails, the write's effect
 * is unknown: nothing is installed, the change is announced anyway, and the call rejects. Keys, TTLs and values are
 * validated by the caller.
 */
export class WritePath {
  readonly #set: TierSet;
  readonly #coherence: Coherence;

  constructor(set: TierSet, coherence: Coherence) {
    this.#set = set;
    this.#coherence = coherence;
  }

  /** Stores `value` under `key` in every tier, as `options` say. */
  async set(key: string, value: unknown, options: ResolvedSetOptions): Promise<void> {
    const last = this.#set.last;
    const text = encodeFor(last.codec, key, value);
    const ttlMs = writtenTtl(options);
    // A plain write (no tags, no grace) takes no await of its own.
    const meta = plainWrite(options) ? undefined : await this.#meta(options);
    await this.#write('set', [key], (announce) => last.store.set(key, { text, ttlMs, meta }, { announce }), {
      texts: [text],
      values: [value],
      ttlMs,
      meta,
    });
  }

  /** Stores every item in every tier, as `options` say; every value is encoded before anything is written. */
  async setMany(
    items: ReadonlyArray<readonly [string, unknown]>,
    options: ResolvedSetOptions,
  ): Promise<void> {
    const last = this.#set.last;
    const keys = items.map(([key]) => key);
    const values = items.map(([, value]) => value);
    const texts = items.map(([key, value]) => encodeFor(last.codec, key, value));
    const ttlMs = writtenTtl(options);
    // A plain write (no tags, no grace) takes no await of its own.
    const meta = plainWrite(options) ? undefined : await this.#meta(options);
    await this.#write(
      'setMany',
      keys,
      (announce) =>
        last.store.setMany(
          keys.map((key, i) => [key, { text: texts[i]!, ttlMs, meta }] as const),
          { announce },
        ),
      { texts, values, ttlMs, meta },
    );
  }

  /**
   * Deletes `keys` (distinct) from every tier: the last tier in one call (one round trip per server), the change
   * published once it took effect. Resolves to how many held a value in the last tier.
   */
  async deleteMany(keys: readonly string[]): Promise<number> {
    const last = this.#set.last;
    let deleted = 0;
    await this.#write(
      'deleteMany',
      keys,
      async () => {
        deleted = await last.store.delete(keys);
      },
      undefined,
      false,
    );
    return deleted;
  }

  /**
   * Writes `entry` (holding `value`) under `key` with `writeLast`, a conditional write of the last tier that
   * resolves to whether it wrote; installs it above only if it did. Resolves to whether it wrote.
   */
  entry(
    key: string,
    entry: EntryWrite,
    value: unknown,
    writeLast: (announce: InvalidationBus | undefined) => Promise<boolean>,
  ): Promise<boolean> {
    return this.#write('getOrSet', [key], writeLast, {
      texts: [entry.text],
      values: [value],
      ttlMs: entry.ttlMs,
      meta: entry.meta,
    });
  }

  /** Deletes `key` from every tier. */
  async delete(key: string): Promise<void> {
    const last = this.#set.last;
    await this.#write(
      'delete',
      [key],
      async (announce) => {
        await last.store.delete([key], { announce });
      },
      undefined,
    );
  }

  /**
   * The metadata a write with `options` stores, or none: with tags, their current versions (and a version stamp,
   * so that read-through can take a lease over the value once a tag invalidates it); with grace, its fresh time.
   */
  async #meta(options: ResolvedSetOptions): Promise<EntryWriteMeta | undefined> {
    const { tags, graceMs, ttlMs } = options;
    const versions = tags.length === 0 ? [] : await this.#set.tags.versions(tags);
    return {
      version: newVersion(),
      ...(graceMs > 0 && ttlMs !== undefined ? { freshMs: ttlMs } : {}),
      ...(tags.length > 0 ? { tags: tagVersionsOf(tags, versions) } : {}),
    };
  }

  /** `announced`: the last tier may announce the write itself (it does not for a `delete` of several keys). */
  async #write(
    operation: string,
    keys: readonly string[],
    writeLast: (announce: InvalidationBus | undefined) => unknown,
    fill: Fill | undefined,
    announced = true,
  ): Promise<boolean> {
    const set = this.#set;
    const coherence = this.#coherence;
    const last = set.last;
    const tickets = keys.map((k) => set.fence.beginWrite(k));
    const invalidation: Invalidation = { kind: 'keys', keys };
    // The last tier counts the entry's TTL from when it applies the write, which is after this.
    const startedAt = performance.now();
    const announce = announced ? coherence.announcer : undefined;
    try {
      // The upper copies are dropped while the write is sent (an in-process tier drops them at once): either way
      // they are gone before this call returns, and the fence keeps any concurrent fill from restoring them.
      const dropped = set.dropUpper(keys);
      let wrote: unknown;
      try {
        wrote = await set.bounded(last, operation, async () => writeLast(announce), operation === 'setMany');
      } catch (error) {
        coherence.publishUnknownEffect(invalidation);
        await dropped;
        throw set.observer.error(operation, error, last.index);
      }
      await dropped;
      // A conditional write that did not write changed nothing: there is nothing to announce or install.
      if (wrote === false) return false;
      // Announced by the write itself, or sent now that it took effect: the caller does not wait a second round trip
      // for the bus to acknowledge it, and a failed publish is an `error` event, never the caller's rejection.
      if (announce !== undefined) coherence.sent(invalidation);
      else void coherence.publish(invalidation);
      if (fill === undefined || !set.upperOpen) return true;
      // The last tier counted the TTL from when it applied the write, after `startedAt`: what is left of it now,
      // rounded against us by a millisecond, since both tiers decide expiry to the millisecond.
      const elapsed = Math.ceil(performance.now() - startedAt) + 1;
      const ttlMs = fill.ttlMs === undefined ? undefined : fill.ttlMs - elapsed;
      const meta = fill.meta === undefined ? undefined : aged(fill.meta, elapsed);
      for (const [k, key] of keys.entries()) {
        if (!set.fence.mayFillOwnWrite(key, tickets[k]!)) continue;
        installAbove(set, last.index, key, fill.texts[k]!, last.codec, ttlMs, meta, () => fill.values[k]);
      }
      return true;
    } finally {
      for (const [k, key] of keys.entries()) set.fence.endWrite(key, tickets[k]!);
      set.watch.touch(keys);
    }
  }
}

/** `meta` as it stands `elapsed` ms after it was written: fresh for that much less, that much older. */
function aged(meta: EntryWriteMeta, elapsed: number): EntryWriteMeta {
  return {
    ...meta,
    ...(meta.freshMs === undefined ? {} : { freshMs: meta.freshMs - elapsed }),
    ...(meta.ageMs === undefined ? {} : { ageMs: meta.ageMs + elapsed }),
  };
}
