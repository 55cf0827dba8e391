import type { Entry } from '@strata-cache/core';
import { installAbove, metaAbove } from './fill.js';
import type { Tier } from './tier.js';
import type { TierSet } from './tier-set.js';

/**
 * Reads: each tier in turn until one holds the key, filling the tiers above it with what it held (never for longer
 * than it lives there, nor than their `maxTtl`), unless the fence says the key may have changed meanwhile. Keys
 * are validated by the caller.
 */
export class ReadPath {
  readonly #set: TierSet;

  constructor(set: TierSet) {
    this.#set = set;
  }

  /** The value of `key` from the first tier that has it fresh. */
  async get<T>(key: string): Promise<T | undefined> {
    const set = this.#set;
    if (set.upperOpen && set.lowerStart > 0) {
      const top = set.top;
      try {
        // The top tier is usually in process: it answers synchronously, and an L1 hit takes no await at all.
        const found = top.store.get(key);
        let entry = found instanceof Promise ? await found : found;
        // A plain entry, or a tagged one already screened valid since anything changed: a hit, checked no further.
        if (entry !== undefined && (entry.meta === undefined || set.tags.screenedValid(entry))) {
          set.observer.hit(key, 0);
          return top.values.read(key, entry) as T;
        }
        const screened = screenedAbove(set, entry);
        entry = screened instanceof Promise ? await screened : screened;
        if (entry !== undefined && isFresh(top, entry)) {
          set.observer.hit(key, 0);
          return top.values.read(key, entry) as T;
        }
      } catch (error) {
        set.upperFailed('get', error, 0);
      }
    }
    return this.#readBelow<T>(key);
  }

  /** The present keys' values, each tier asked once for what the tiers above it missed; in request order. */
  async getMany<T>(keys: readonly string[]): Promise<Map<string, T>> {
    const set = this.#set;
    const unique = keys.length === 1 ? keys : [...new Set(keys)];
    const found = new Map<string, T>();
    let missing = unique;
    // How many tiers answered some keys: with one, `found` is already in request order.
    let answering = 0;
    if (set.upperOpen && set.lowerStart > 0) {
      const top = set.top;
      try {
        const entries = await screenMany(set, await top.store.getMany(missing), true);
        const left: string[] = [];
        for (let k = 0; k < missing.length; k++) {
          const key = missing[k]!;
          const entry = entries[k];
          if (entry === undefined || !isFresh(top, entry)) left.push(key);
          else {
            found.set(key, top.values.read(key, entry) as T);
            set.observer.hits[0]!++;
          }
        }
        if (left.length < missing.length) answering++;
        missing = left;
      } catch (error) {
        set.upperFailed('getMany', error, 0);
      }
    }
    let failed = false;
    for (let i = set.lowerStart; i < set.tiers.length && missing.length > 0; i++) {
      const tier = set.tiers[i]!;
      const asked = missing;
      const ticket = set.fence.begin();
      try {
        const entries = await set.lowerRead(tier, 'get', async () =>
          screenMany(set, await tier.store.getMany(asked), false),
        );
        if (entries === undefined) {
          failed = true;
          continue;
        }
        // One reading of the tier's clock for the whole batch: its entries' remaining lives are read against it.
        const now = tier.store.now();
        const left: string[] = [];
        for (let k = 0; k < asked.length; k++) {
          const key = asked[k]!;
          const entry = entries[k];
          if (entry === undefined || !isFreshAt(now, entry)) {
            left.push(key);
            continue;
          }
          const value = tier.values.read(key, entry) as T;
          found.set(key, value);
          set.observer.hits[i]!++;
          this.#fill(key, entry, tier, ticket, () => value, now);
        }
        if (left.length < asked.length) answering++;
        missing = left;
      } finally {
        set.fence.end(ticket);
      }
    }
    if (failed && set.failSafe.enabled) {
      const left: string[] = [];
      for (const key of missing) {
        const value = await set.failSafe.fallback<T>(key);
        if (value === undefined) left.push(key);
        else found.set(key, value.value);
      }
      if (left.length < missing.length) answering++;
      missing = left;
    }
    set.observer.counts.misses += missing.length;
    if (answering <= 1) return found;
    const ordered = new Map<string, T>();
    for (const k of unique) if (found.has(k)) ordered.set(k, found.get(k) as T);
    return ordered;
  }

  /** Whether any tier holds `key` fresh. */
  async exists(key: string): Promise<boolean> {
    const set = this.#set;
    if (set.upperOpen) {
      for (const tier of set.upper) {
        try {
          const found = tier.store.get(key);
          const read = found instanceof Promise ? await found : found;
          const screened = screenedAbove(set, read);
          const entry = screened instanceof Promise ? await screened : screened;
          if (entry !== undefined && isFresh(tier, entry)) return true;
        } catch (error) {
          set.upperFailed('exists', error, tier.index);
        }
      }
    }
    const last = set.last;
    return (await set.lowerRead(last, 'exists', () => last.cache.exists(key))) ?? false;
  }

  async #readBelow<T>(key: string): Promise<T | undefined> {
    const set = this.#set;
    const ticket = set.fence.begin();
    let failed = false;
    try {
      for (let i = set.lowerStart; i < set.tiers.length; i++) {
        const tier = set.tiers[i]!;
        let entry: Entry | undefined;
        try {
          // A tier that bounds its own calls is asked directly: one await, no time limit of ours stacked on it.
          if (tier.selfBounded) {
            set.admit(tier, 'get');
            try {
              entry = await tier.store.get(key);
            } catch (error) {
              set.outcome(tier, error);
              throw error;
            }
            set.outcome(tier);
          } else entry = await set.bounded(tier, 'get', async () => tier.store.get(key));
          if (entry?.meta?.tags !== undefined) entry = await set.tags.screen(entry);
        } catch (error) {
          entry = set.lowerFailed('get', error, i);
          failed = true;
        }
        if (entry !== undefined && isFresh(tier, entry)) {
          set.observer.hit(key, i);
          const value = tier.values.read(key, entry) as T;
          this.#fill(key, entry, tier, ticket, () => value, tier.store.now());
          return value;
        }
      }
    } finally {
      set.fence.end(ticket);
    }
    if (failed && set.failSafe.enabled) {
      const stale = await set.failSafe.fallback<T>(key);
      if (stale !== undefined) return stale.value;
    }
    set.observer.counts.misses++;
    set.observer.emitter.emit('miss', { key });
    return undefined;
  }

  #fill(key: string, entry: Entry, from: Tier, ticket: number, value: () => unknown, now: number): void {
    fillAbove(this.#set, key, entry, from, ticket, value, now);
  }
}

/**
 * `entry` of a tier above the last as reads must see it (see `TagBook.screen`): at once when it carries no tags or
 * they are known; when its tags' versions must be asked for and cannot be learnt, it is not used (the read goes on
 * below, where the failure is reported).
 */
export function screenedAbove(
  set: TierSet,
  entry: Entry | undefined,
): Entry | undefined | Promise<Entry | undefined> {
  if (entry?.meta?.tags === undefined) return entry;
  const screened = set.tags.screen(entry);
  return screened instanceof Promise ? screened.catch(() => undefined) : screened;
}

/**
 * `entries` screened by the tag book, the versions of every tag among them asked of the last tier at most once.
 * `upper`: entries of a tier above the last, dropped when the versions cannot be learnt (else the call rejects).
 */
export async function screenMany(
  set: TierSet,
  entries: ReadonlyArray<Entry | undefined>,
  upper: boolean,
): Promise<ReadonlyArray<Entry | undefined>> {
  if (!entries.some((entry) => entry?.meta?.tags !== undefined)) return entries;
  try {
    return await set.tags.screenAll(entries);
  } catch (error) {
    if (!upper) throw error;
    return entries.map((entry) => (entry?.meta?.tags === undefined ? entry : undefined));
  }
}

/** Installs `entry` (read from `from`, whose clock says `now`) in the tiers above it, if the fence allows. */
export function fillAbove(
  set: TierSet,
  key: string,
  entry: Entry,
  from: Tier,
  ticket: number,
  value: () => unknown,
  now: number,
): void {
  if (!set.upperOpen || !set.fence.mayFill(key, ticket)) return;
  const meta = entry.meta === undefined ? undefined : metaAbove(entry.meta, now);
  const ttlMs = entry.expiresAt === undefined ? undefined : entry.expiresAt - now;
  installAbove(set, from.index, key, entry.text, from.codec, ttlMs, meta, value);
}

/**
 * Not past its fresh time, nor only a lease's placeholder, nor unverified (a stale or unverified entry is only a
 * fallback for read-through or the fail-safe, never a value to `get`).
 */
export function isFresh(tier: Tier, entry: Entry): boolean {
  const meta = entry.meta;
  if (meta === undefined) return true;
  if (meta.placeholder === true || meta.unverified === true) return false;
  // The clock is read only for an entry that has a fresh horizon.
  return meta.freshUntil === undefined || tier.store.now() <= meta.freshUntil;
}

/** {@link isFresh}, the tier's clock read once by the caller. */
export function isFreshAt(now: number, entry: Entry): boolean {
  const meta = entry.meta;
  if (meta === undefined) return true;
  if (meta.placeholder === true || meta.unverified === true) return false;
  return meta.freshUntil === undefined || now <= meta.freshUntil;
}
