import { CacheError, CacheUnavailableError } from '@strata-cache/core';
import { DeadlineSweeper } from '@strata-cache/core/internal';
import { Breaker, type BreakerOptions } from './breaker.js';
import { FailSafe } from './fail-safe.js';
import { FillFence } from './fill-fence.js';
import { KeyWatch } from './key-watch.js';
import type { Observer } from './observer.js';
import { TagBook } from './tag-book.js';
import type { Tier } from './tier.js';

/** How a {@link TierSet} bounds and guards its lower tiers. */
export interface TierSetOptions {
  /** The time limit on a lower tier's call, in ms. */
  readonly timeoutMs: number;
  /** A failed read below the top is a miss plus an `error` event (else it rejects). */
  readonly degrade: boolean;
  /** The circuit breaker of each lower tier; `undefined`: none. */
  readonly breaker: Required<BreakerOptions> | undefined;
  /** The fail-safe's `staleIfError`, in ms; 0: off. */
  readonly staleIfErrorMs: number;
}

/**
 * The tiers of a cache and what its read and write paths share: the fill fence, whether the upper tiers may be used
 * (see `Coherence`), the time limit on lower tiers' calls, and how a tier's failure is reported.
 */
export class TierSet {
  readonly tiers: readonly Tier[];
  /** The top tier (L1). */
  readonly top: Tier;
  /** Every tier above the last (none for a cache of one tier). */
  readonly upper: readonly Tier[];
  /** The last, authoritative tier. */
  readonly last: Tier;
  /** The index of the first tier read as a lower one (remote, bounded, behind a breaker): 1, or 0 with one tier. */
  readonly lowerStart: number;
  readonly fence: FillFence = new FillFence();
  /** Wakes `getOrSet`s waiting for another instance's lease when a key may have changed. */
  readonly watch: KeyWatch = new KeyWatch();
  readonly observer: Observer;
  /** A failed read below the top is a miss plus an `error` event (else it rejects). */
  readonly degrade: boolean;
  /** Whether upper tiers are read and filled (see `Coherence`); false until the bus subscription is live. */
  upperOpen = false;
  /** Per lower tier: its circuit breaker (none with `breaker: false`). */
  readonly breakers: ReadonlyArray<Breaker | undefined>;
  /** The opt-in fail-safe (`staleIfError`). */
  readonly failSafe: FailSafe;
  /** What this instance knows of tags' versions. */
  readonly tags: TagBook;
  readonly #deadlines: DeadlineSweeper;

  constructor(tiers: readonly Tier[], observer: Observer, options: TierSetOptions) {
    const { timeoutMs, degrade, breaker } = options;
    this.tiers = tiers;
    this.top = tiers[0]!;
    this.upper = tiers.slice(0, -1);
    this.last = tiers.at(-1)!;
    this.lowerStart = tiers.length === 1 ? 0 : 1;
    this.tags = new TagBook(this);
    this.observer = observer;
    this.degrade = degrade;
    this.#deadlines = new DeadlineSweeper(timeoutMs);
    this.breakers = tiers.map((tier) =>
      tier.index < this.lowerStart || breaker === undefined
        ? undefined
        : new Breaker(
            breaker,
            (state) => observer.breaker(tier.index, state),
            // A read no caller waits on, of a key no one needs to have written: it only asks whether the tier answers.
            () => this.#deadlines.run('probe', async () => tier.store.get(PROBE_KEY)),
          ),
    );
    this.failSafe = new FailSafe(this.upper, observer, options.staleIfErrorMs, (entry) =>
      this.tags.fallbackAllowed(entry),
    );
  }

  /**
   * Runs a call of `tier` within `timeoutMs` (the tier's own limit if it has one that fits, else ours; a long
   * operation — `setMany`, a walk — of a tier that bounds its own steps is not bounded as a whole), through the
   * tier's circuit breaker: while it is open the call fails at once. `admitted`: the caller already passed the
   * breaker ({@link TierSet.admit}) before starting the call; only its outcome is recorded.
   */
  bounded<R>(
    tier: Tier,
    operation: string,
    call: () => Promise<R>,
    long = false,
    admitted = false,
  ): Promise<R> {
    const breaker = this.breakers[tier.index];
    if (!admitted && breaker !== undefined && !breaker.allow())
      return Promise.reject(openCircuit(operation, tier));
    const run = (long ? tier.stepBounded : tier.selfBounded) ? call() : this.#deadlines.run(operation, call);
    if (breaker === undefined) return run;
    return run.then(
      (result) => {
        breaker.success();
        return result;
      },
      (error: unknown) => {
        breaker.failure(error);
        throw error;
      },
    );
  }

  /** Reads a lower tier within the time limit; failures degrade to `undefined` (plus `error`) or reject. */
  async lowerRead<R>(tier: Tier, operation: string, read: () => Promise<R>): Promise<R | undefined> {
    try {
      return await this.bounded(tier, operation, read);
    } catch (error) {
      return this.lowerFailed(operation, error, tier.index);
    }
  }

  /** A read of a lower tier failed: a miss plus an `error` event when degrading, else a rejection. */
  lowerFailed(operation: string, error: unknown, tier: number): undefined {
    if (error instanceof CacheError && error.code !== 'CACHE_UNAVAILABLE') throw error;
    this.observer.error(operation, error, tier);
    if (this.degrade) return undefined;
    throw error;
  }

  /** An upper tier failing is never fatal: a miss plus an `error` event (bad input still throws). */
  upperFailed(operation: string, error: unknown, tier: number): void {
    if (error instanceof CacheError && error.code.startsWith('CACHE_INVALID')) throw error;
    this.observer.error(operation, error, tier);
  }

  /** Deletes `keys` from every upper tier; never rejects (failures are `error` events). */
  dropUpper(keys: readonly string[]): Promise<unknown> {
    const drops: Array<Promise<unknown>> = [];
    for (const tier of this.upper) {
      try {
        const done = tier.store.delete(keys);
        if (done instanceof Promise)
          drops.push(done.catch((e: unknown) => this.observer.error('delete', e, tier.index)));
      } catch (error) {
        this.observer.error('delete', error, tier.index);
      }
    }
    return drops.length === 0 ? Promise.resolve() : Promise.all(drops);
  }

  /**
   * The hot path's way through the breaker, without a promise of its own: throws at once when `tier`'s circuit is
   * open; pair with {@link TierSet.outcome}.
   */
  admit(tier: Tier, operation: string): void {
    const breaker = this.breakers[tier.index];
    if (breaker !== undefined && !breaker.allow()) throw openCircuit(operation, tier);
  }

  /** Records how a call admitted with {@link TierSet.admit} ended (`undefined`: it succeeded). */
  outcome(tier: Tier, error?: unknown): void {
    const breaker = this.breakers[tier.index];
    if (breaker === undefined) return;
    if (error === undefined) breaker.success();
    else breaker.failure(error);
  }

  /** Rejects every call waiting on the time limit and stops the breakers' probes (the cache is closing). */
  abort(reason: (operation: string) => Error): void {
    for (const breaker of this.breakers) breaker?.stop();
    this.tags.stop();
    this.#deadlines.abort(reason);
  }
}

/** The key a breaker's probe reads. */
const PROBE_KEY = 'strata-breaker-probe';

function openCircuit(operation: string, tier: Tier): CacheUnavailableError {
  return new CacheUnavailableError(
    operation,
    `tier ${tier.index} keeps failing: its circuit is open, calls fail at once`,
  );
}
