import { CacheError, type Entry, type EntryMeta } from '@strata-cache/core';
import { type Answer, Flight } from './flight.js';
import type { Loader, ResolvedGetOrSet } from './get-or-set-options.js';
import type { LastRead, LeaseClaims, StaleCopy } from './lease-claims.js';
import { LoaderRuns } from './loader-runs.js';
import { fillAbove, isFreshAt, screenedAbove } from './read-path.js';
import type { TierSet } from './tier-set.js';
import type { WritePath } from './write-path.js';

/** What a run found in the tiers before loading. */
interface Probe {
  /** A fresh value: the answer. */
  readonly fresh?: Answer;
  /** The metadata of the fresh value and the clock of its tier, for refresh ahead. */
  readonly freshMeta?: { readonly meta: EntryMeta | undefined; readonly now: number };
  /** A stale value at hand (expired within its grace; never an invalidated one). */
  readonly stale?: StaleCopy;
  /** The last tier's entry, as the lease is taken over it. */
  readonly last: LastRead;
}

/**
 * `getOrSet`: read-through with single flight in the instance (one run per key, every concurrent caller answered by
 * it) and across instances (the last tier's lease, see {@link LeaseClaims}), no stale set (the result is written
 * only over the run's own lease), grace, soft and hard timeouts, a backoff after failures, and refresh ahead.
 */
export class ReadThrough {
  readonly #set: TierSet;
  readonly #claims: LeaseClaims;
  readonly #loads: LoaderRuns;
  /** Runs in flight, by key: what concurrent callers join. */
  readonly #flights = new Map<string, Flight>();
  /** Keys being refreshed ahead in the background (callers never join these). */
  readonly #refreshing = new Set<string>();
  readonly #closing: AbortController;

  constructor(set: TierSet, writes: WritePath, claims: LeaseClaims, closing: AbortController) {
    this.#set = set;
    this.#claims = claims;
    this.#loads = new LoaderRuns(set, writes, claims);
    this.#closing = closing;
  }

  /** The value of `key` from the first tier holding it fresh, else what `loader` returns (cached per the rules). */
  async getOrSet<T>(key: string, loader: Loader<T>, options: ResolvedGetOrSet): Promise<T | undefined> {
    const set = this.#set;
    if (set.upperOpen && set.lowerStart > 0) {
      const top = set.top;
      try {
        // As `get`: an in-process top tier answers synchronously, and a hit takes no await.
        const found = top.store.get(key);
        const read = found instanceof Promise ? await found : found;
        const screened = screenedAbove(set, read);
        const entry = screened instanceof Promise ? await screened : screened;
        if (entry !== undefined) {
          const meta = entry.meta;
          if (meta === undefined) {
            set.observer.hit(key, 0);
            return top.values.read(key, entry) as T;
          }
          const now = top.store.now();
          if (isFreshAt(now, entry)) {
            set.observer.hit(key, 0);
            if (options.refreshAhead !== undefined) this.#refreshIfOld(key, loader, options, meta, now);
            return top.values.read(key, entry) as T;
          }
        }
      } catch (error) {
        set.upperFailed('getOrSet', error, 0);
      }
    }
    let flight = this.#flights.get(key);
    // A run that began before the key last changed (here, or as heard from another instance) may answer what the
    // change replaced: a call that starts after it gets a run of its own.
    if (flight === undefined || set.fence.touchedSince(key, flight.ticket)) {
      const started = new Flight(set.fence.begin());
      flight = started;
      this.#flights.set(key, started);
      void this.#run(key, loader, options, started).finally(() => {
        started.end();
        set.fence.end(started.ticket);
        if (this.#flights.get(key) === started) this.#flights.delete(key);
      });
    }
    const answer = await flight.answer;
    return answer.kind === 'none' ? undefined : (answer.values.read(key, answer.entry) as T);
  }

  /** Aborts every loader in progress (`ctx.signal`) and every wait: the cache is closing. */
  close(): void {
    this.#loads.close();
  }

  /** One run for `key`: never rejects (the callers learn its outcome from `flight`). */
  async #run<T>(key: string, loader: Loader<T>, options: ResolvedGetOrSet, flight: Flight): Promise<void> {
    const set = this.#set;
    const ticket = flight.ticket;
    try {
      const probe = await this.#probe(key, ticket);
      if (probe.fresh !== undefined) {
        flight.settle(probe.fresh);
        const fresh = probe.freshMeta;
        if (options.refreshAhead !== undefined && fresh?.meta !== undefined)
          this.#refreshIfOld(key, loader, options, fresh.meta, fresh.now);
        return;
      }
      set.observer.counts.misses++;
      set.observer.emitter.emit('miss', { key });
      const stale = probe.stale;
      if (stale !== undefined) {
        if (this.#loads.backedOff(key)) {
          this.#loads.answerStale(flight, key, stale, 'backoff');
          return;
        }
        const softMs = options.softMs;
        if (softMs !== undefined)
          flight.softTimeout(softMs, () => this.#loads.answerStale(flight, key, stale, 'timeout'));
      }
      const claim = await this.#claims.claim(key, probe.last, options, flight, this.#closing.signal);
      if (claim.kind === 'answered') return;
      await this.#loads.load(key, loader, options, flight, claim, stale, ticket, false);
    } catch (error) {
      flight.fail(error);
    }
  }

  /**
   * Reads the tiers below the top (the top was read by the caller) until one holds `key` fresh, filling the tiers
   * above it; else notes a stale value at hand and the last tier's entry. A tier that fails is an `error` event (the
   * loader is called all the same); bad stored data rejects, as for `get`.
   */
  async #probe(key: string, ticket: number): Promise<Probe> {
    const set = this.#set;
    let stale: StaleCopy | undefined;
    let last: LastRead = { failed: true };
    for (let i = set.lowerStart; i < set.tiers.length; i++) {
      const tier = set.tiers[i]!;
      let entry: Entry | undefined;
      try {
        entry = await set.bounded(tier, 'getOrSet', async () => {
          const found = await tier.store.get(key);
          return found?.meta?.tags === undefined ? found : set.tags.screen(found);
        });
      } catch (error) {
        if (error instanceof CacheError && error.code !== 'CACHE_UNAVAILABLE') throw error;
        set.observer.error('getOrSet', error, i);
        continue;
      }
      const now = tier.store.now();
      if (tier === set.last) last = { failed: false, entry };
      if (entry === undefined) continue;
      if (isFreshAt(now, entry)) {
        set.observer.hit(key, i);
        const found = entry;
        fillAbove(set, key, found, tier, ticket, () => tier.values.read(key, found), now);
        return {
          fresh: { kind: 'value', entry, values: tier.values },
          freshMeta: { meta: entry.meta, now },
          last,
        };
      }
      const copy = this.#claims.staleCopy(key, tier, entry, now);
      if (copy !== undefined) stale = copy;
    }
    if (last.failed && stale === undefined && set.upperOpen) stale = this.#upperStale(key);
    return stale === undefined ? { last } : { stale, last };
  }

  /** A verified stale copy of `key` above the last tier, for when the last tier cannot be read. */
  #upperStale(key: string): StaleCopy | undefined {
    for (const tier of this.#set.upper) {
      const found = tier.store.get(key);
      if (found instanceof Promise || found === undefined || !this.#set.tags.fallbackAllowed(found)) continue;
      const copy = this.#claims.staleCopy(key, tier, found, tier.store.now());
      if (copy !== undefined) return copy;
    }
    return undefined;
  }

  /**
   * Starts one background reload of `key` if its fresh value (`meta`, read at `now` in its tier's clock) is older
   * than `refreshAhead` of its fresh life, unless one is already under way here; the lease keeps it to one across
   * instances.
   */
  #refreshIfOld<T>(
    key: string,
    loader: Loader<T>,
    options: ResolvedGetOrSet,
    meta: EntryMeta,
    now: number,
  ): void {
    const { writtenAt, freshUntil, version } = meta;
    if (writtenAt === undefined || freshUntil === undefined || version === undefined) return;
    if (now - writtenAt < options.refreshAhead! * (freshUntil - writtenAt)) return;
    if (this.#refreshing.has(key) || this.#flights.has(key) || !this.#claims.leasing) return;
    this.#refreshing.add(key);
    void this.#refresh(key, loader, options);
  }

  async #refresh<T>(key: string, loader: Loader<T>, options: ResolvedGetOrSet): Promise<void> {
    const set = this.#set;
    const ticket = set.fence.begin();
    let holdMs = 0;
    try {
      const claim = await this.#claims.claimRefresh(key, options);
      if (claim.kind !== 'lease') {
        // Another instance refreshes it (or it changed): do not ask again for a while.
        holdMs = claim.kind === 'none' ? claim.retryMs : 0;
        return;
      }
      set.observer.counts.refreshes++;
      await this.#loads.load(key, loader, options, new Flight(ticket), claim, undefined, ticket, true);
    } catch (error) {
      set.observer.error('refresh', error);
    } finally {
      set.fence.end(ticket);
      if (holdMs <= 0) this.#refreshing.delete(key);
      else setTimeout(() => this.#refreshing.delete(key), holdMs).unref();
    }
  }
}
