import type { Entry, EntryWriteMeta } from '@strata-cache/core';
import { metaAbove } from './fill.js';
import type { Observer } from './observer.js';
import type { Tier } from './tier.js';

/** How many entries a demotion rewrites before it lets other work run. */
const DEMOTE_CHUNK = 1_000;

/**
 * The opt-in fail-safe (`staleIfError`): copies in the tiers above the last are kept `staleIfError` past the time
 * they stop being fresh, and a read that the tiers below cannot answer (unavailable, or their circuit open) answers
 * with such a copy instead, saying so (a `stale` event). After the bus may have lost messages, the copies are not
 * dropped but demoted: *unverified*, never read as fresh again, only a fallback.
 */
export class FailSafe {
  /** How long past its fresh time (or since it became unverified) a copy may still answer, in ms; 0: off. */
  readonly staleMs: number;
  readonly #upper: readonly Tier[];
  readonly #observer: Observer;

  /**
   * `allowed(entry)`: whether a copy may answer at all (one whose tags are known to have been invalidated since it
   * was written may not).
   */
  readonly #allowed: (entry: Entry) => boolean;
  constructor(
    upper: readonly Tier[],
    observer: Observer,
    staleMs: number,
    allowed: (entry: Entry) => boolean = () => true,
  ) {
    this.#allowed = allowed;
    this.#upper = upper;
    this.#observer = observer;
    this.staleMs = staleMs;
  }

  /** Whether the fail-safe is on. */
  get enabled(): boolean {
    return this.staleMs > 0;
  }

  /**
   * The metadata and TTL a copy written above the last tier is kept with: fresh for `ttlMs` (what it would have
   * lived), then kept `staleIfError` more as a fallback. Unchanged when the fail-safe is off.
   */
  extend(
    ttlMs: number,
    meta: EntryWriteMeta | undefined,
  ): { readonly ttlMs: number; readonly meta: EntryWriteMeta | undefined } {
    if (this.staleMs === 0) return { ttlMs, meta };
    const freshMs = Math.min(meta?.freshMs ?? ttlMs, ttlMs);
    return { ttlMs: ttlMs + this.staleMs, meta: { ...meta, freshMs } };
  }

  /**
   * The value of the first copy of `key` above the last tier (fresh, stale or unverified: the tiers kept none longer
   * than the fail-safe allows), for a read the tiers below could not answer; a `stale` event says so.
   */
  async fallback<T>(key: string): Promise<{ readonly value: T } | undefined> {
    for (const tier of this.#upper) {
      try {
        const found = tier.store.get(key);
        const entry = found instanceof Promise ? await found : found;
        if (entry === undefined || entry.meta?.placeholder === true || !this.#allowed(entry)) continue;
        const staleMs = this.#staleFor(entry, tier.store.now());
        if (staleMs > this.staleMs) continue;
        const value = tier.values.read(key, entry) as T;
        this.#observer.stale(key, 'unavailable', staleMs);
        return { value };
      } catch (error) {
        this.#observer.error('fallback', error, tier.index);
      }
    }
    return undefined;
  }

  /**
   * Marks every copy in `tier` unverified (it may have missed an invalidation): kept as a fallback for at most
   * `staleIfError` from now, never read as fresh. Each entry is read and rewritten in one synchronous step, so that
   * no invalidation applied meanwhile is undone.
   */
  async demote(tier: Tier): Promise<void> {
    const store = tier.store;
    let done = 0;
    for await (const batch of store.scan('*')) {
      for (const key of batch) {
        if (++done % DEMOTE_CHUNK === 0) await new Promise((resolve) => setImmediate(resolve));
        const found = store.get(key);
        const entry = found instanceof Promise ? await found : found;
        if (entry === undefined) continue;
        const now = store.now();
        const left = Math.floor(
          Math.min(entry.expiresAt === undefined ? this.staleMs : entry.expiresAt - now, this.staleMs),
        );
        if (entry.meta?.placeholder === true || left < 1) {
          const removed = store.delete([key]);
          if (removed instanceof Promise) await removed;
          continue;
        }
        const meta = entry.meta === undefined ? {} : metaAbove(entry.meta, now);
        const written = store.set(key, {
          text: entry.text,
          ttlMs: left,
          meta: { ...meta, freshMs: Math.min(meta.freshMs ?? 0, 0), unverified: true },
        });
        if (written instanceof Promise) await written;
      }
    }
  }

  /** How long `entry` is past its fresh time at `now` (0 while fresh and verified). */
  #staleFor(entry: Entry, now: number): number {
    const freshUntil = entry.meta?.freshUntil;
    return freshUntil === undefined || now <= freshUntil ? 0 : now - freshUntil;
  }
}
