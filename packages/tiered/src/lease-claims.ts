import { CacheError, type Entry, type ValueReader } from '@strata-cache/core';
import { closedError } from '@strata-cache/core/internal';
import type { Flight } from './flight.js';
import type { ResolvedGetOrSet } from './get-or-set-options.js';
import type { Leases } from './lease.js';
import { ProtocolStore } from './protocol-store.js';
import { fillAbove, isFreshAt } from './read-path.js';
import type { Tier } from './tier.js';
import type { TierSet } from './tier-set.js';

/** How long a lease holds when `getOrSet` is told `lease: false` (it claims the key all the same, without waiting). */
const CLAIM_MS = 5_000;
/** How many times a run tries to take a lease over an entry that keeps changing before it loads uncached. */
const MAX_ATTEMPTS = 8;
/** Without a bus no invalidation wakes a waiter: it reads the key again after this long, doubling up to the next. */
const POLL_FIRST_MS = 10;
const POLL_MAX_MS = 250;

/** What a run may do with what its loader returns. */
export type Claim =
  /** It holds the key's lease: its write lands only while the lease is still its own. */
  | { readonly kind: 'lease'; readonly token: string; readonly replaced: Entry | undefined }
  /** The last tier has no leases: the value is written if this instance saw no change of the key meanwhile. */
  | { readonly kind: 'fenced' }
  /**
   * It writes nothing: the last tier is down (`lowerDown`), or another instance held the lease past `waitMs`, or
   * the key kept changing. `retryMs`: for a refresh, how long another instance's lease still holds.
   */
  | { readonly kind: 'none'; readonly lowerDown: boolean; readonly retryMs: number }
  /** Another instance's write answered the callers while this one waited. */
  | { readonly kind: 'answered' };

/** The last tier's entry for a key, or the fact that it could not be read. */
export type LastRead =
  | { readonly failed: true }
  | { readonly failed: false; readonly entry: Entry | undefined };

/** A stale value at hand: expired within its grace, never an invalidated or unverified one. */
export interface StaleCopy {
  readonly entry: Entry;
  readonly values: ValueReader;
  /** Its value, decoded once for the loader's `ctx.stale`. */
  readonly value: unknown;
  /** How long ago it stopped being fresh, in ms. */
  readonly expiredMs: number;
}

const ANSWERED: Claim = { kind: 'answered' };
const FENCED: Claim = { kind: 'fenced' };
const LOWER_DOWN: Claim = { kind: 'none', lowerDown: true, retryMs: 0 };
const UNCACHED: Claim = { kind: 'none', lowerDown: false, retryMs: 0 };

/**
 * How a `getOrSet` run earns the right to write: it takes the key's lease in the last tier, or waits for the
 * instance holding it — woken by that instance's write (its invalidation on the bus), not by polling — and reads
 * what it wrote. A holder that died delays the others by at most its lease's TTL; a waiter that waited `waitMs`
 * loads for itself and caches nothing.
 */
export class LeaseClaims {
  /** Whether the last tier has leases (every store does; a plain `CacheProtocol` tier does not). */
  readonly leasing: boolean;
  readonly #set: TierSet;
  readonly #leases: Leases;
  readonly #listening: () => boolean;

  constructor(set: TierSet, leases: Leases, listening: () => boolean) {
    this.#set = set;
    this.#leases = leases;
    this.#listening = listening;
    this.leasing = !(set.last.store instanceof ProtocolStore);
  }

  /** `entry` (read from `tier` at `now`) as a stale value at hand, if it is one. */
  staleCopy(key: string, tier: Tier, entry: Entry, now: number): StaleCopy | undefined {
    const meta = entry.meta;
    if (meta?.freshUntil === undefined || meta.placeholder === true || meta.unverified === true)
      return undefined;
    try {
      const value = tier.values.read(key, entry);
      return { entry, values: tier.values, value, expiredMs: Math.max(0, now - meta.freshUntil) };
    } catch (error) {
      this.#set.observer.error('getOrSet', error, tier.index);
      return undefined;
    }
  }

  /**
   * Earns the right to write `key` for a run whose probe read `last` from the last tier: takes its lease, or waits
   * for the holder's write (then answers `flight` with it), or gives up writing.
   */
  async claim(
    key: string,
    last: LastRead,
    options: ResolvedGetOrSet,
    flight: Flight,
    closing: AbortSignal,
  ): Promise<Claim> {
    if (last.failed) return LOWER_DOWN;
    if (!this.leasing) return FENCED;
    const set = this.#set;
    const store = set.last.store;
    const lease = options.lease;
    const force = lease === undefined;
    const ttlMs = lease?.ttlMs ?? CLAIM_MS;
    const started = performance.now();
    let current = last.entry;
    let waiting = false;
    let attempts = 0;
    let pollMs = POLL_FIRST_MS;
    const waited = (outcome: 'written' | 'released' | 'timeout'): void => {
      if (waiting) set.observer.leaseWait(key, performance.now() - started, outcome);
    };
    for (;;) {
      if (closing.aborted) throw closedError('getOrSet');
      const now = store.now();
      if (current !== undefined && isFreshAt(now, current)) {
        waited('written');
        flight.settle({ kind: 'value', entry: current, values: set.last.values });
        return ANSWERED;
      }
      const held = current?.meta?.lease;
      if (force || held === undefined || held.until <= now) {
        if (++attempts > MAX_ATTEMPTS) return UNCACHED;
        let taken: Awaited<ReturnType<Leases['take']>>;
        try {
          taken = await this.#leases.take(key, current, ttlMs, force);
        } catch (error) {
          return this.#lowerFailed(error);
        }
        if (taken.kind === 'held') {
          waited('released');
          return { kind: 'lease', token: taken.token, replaced: taken.replaced };
        }
        const read = await this.#readLast(key);
        if (read.failed) return LOWER_DOWN;
        current = read.entry;
        continue;
      }
      if (!waiting) {
        waiting = true;
        set.observer.counts.leaseWaits++;
      }
      const left = lease!.waitMs - (performance.now() - started);
      if (left <= 0) {
        waited('timeout');
        return UNCACHED;
      }
      // Registered before the key is read again: a write landing in between still wakes this waiter.
      const watcher = set.watch.watch(key);
      try {
        const seen = await this.#readLast(key);
        if (seen.failed) return LOWER_DOWN;
        current = seen.entry;
        if (current?.meta?.lease?.token !== held.token || isFreshAt(store.now(), current)) continue;
        const untilLapse = Math.max(1, held.until - store.now() + 1);
        const delay = Math.min(untilLapse, left, this.#listening() ? untilLapse : pollMs);
        pollMs = Math.min(pollMs * 2, POLL_MAX_MS);
        await sleep(watcher.changed, delay, closing);
      } finally {
        watcher.cancel();
      }
      const read = await this.#readLast(key);
      if (read.failed) return LOWER_DOWN;
      current = read.entry;
    }
  }

  /**
   * Takes `key`'s lease to refresh its fresh value ahead of time, unless another instance holds it (then `retryMs`
   * says for how long) or the value is not one `getOrSet` wrote.
   */
  async claimRefresh(key: string, options: ResolvedGetOrSet): Promise<Claim> {
    const read = await this.#readLast(key);
    if (read.failed) return LOWER_DOWN;
    const current = read.entry;
    const store = this.#set.last.store;
    const now = store.now();
    if (current?.meta?.version === undefined || !isFreshAt(now, current)) return UNCACHED;
    const held = current.meta.lease;
    if (held !== undefined && held.until > now)
      return { kind: 'none', lowerDown: false, retryMs: held.until - now };
    try {
      const taken = await this.#leases.take(key, current, options.lease?.ttlMs ?? CLAIM_MS);
      return taken.kind === 'held'
        ? { kind: 'lease', token: taken.token, replaced: taken.replaced }
        : UNCACHED;
    } catch (error) {
      return this.#lowerFailed(error);
    }
  }

  /** Gives up the lease of `claim`, if it holds one; a failure is an `error` event (the lease lapses by itself). */
  async release(key: string, claim: Claim): Promise<void> {
    if (claim.kind !== 'lease') return;
    try {
      await this.#leases.release(key, claim.token, claim.replaced);
    } catch (error) {
      this.#set.observer.error('getOrSet', error, this.#set.last.index);
    }
  }

  /** The last tier's entry for `key` (filling the tiers above when it is fresh). */
  async #readLast(key: string): Promise<LastRead> {
    const set = this.#set;
    const last = set.last;
    const ticket = set.fence.begin();
    try {
      const entry = await set.bounded(last, 'getOrSet', async () => {
        const found = await last.store.get(key);
        return found?.meta?.tags === undefined ? found : set.tags.screen(found);
      });
      const now = last.store.now();
      if (entry !== undefined && isFreshAt(now, entry))
        fillAbove(set, key, entry, last, ticket, () => last.values.read(key, entry), now);
      return { failed: false, entry };
    } catch (error) {
      this.#lowerFailed(error);
      return { failed: true };
    } finally {
      set.fence.end(ticket);
    }
  }

  /** The last tier failed: an `error` event (bad stored data still rejects). */
  #lowerFailed(error: unknown): Claim {
    if (error instanceof CacheError && error.code !== 'CACHE_UNAVAILABLE') throw error;
    this.#set.observer.error('getOrSet', error, this.#set.last.index);
    return LOWER_DOWN;
  }
}

/** Resolves when `changed` does, after `ms`, or when `closing` aborts, whichever is first. */
function sleep(changed: Promise<void>, ms: number, closing: AbortSignal): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      closing.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    closing.addEventListener('abort', done, { once: true });
    void changed.then(done);
  });
}
