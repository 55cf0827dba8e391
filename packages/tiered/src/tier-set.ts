import { CacheError } from '@strata-cache/core';
import { DeadlineSweeper } from '@strata-cache/core/internal';
import { FillFence } from './fill-fence.js';
import type { Observer } from './observer.js';
import type { Tier } from './tier.js';

/**
 * The tiers of a cache and what its read and write paths share: the fill fence, whether the upper tiers may be used
 * (see `Coherence`), the time limit on lower tiers' calls, and how a tier's failure is reported.
 */
export class TierSet {
  readonly tiers: readonly Tier[];
  /** The top tier (L1). */
  readonly top: Tier;
  /** Every tier above the last. */
  readonly upper: readonly Tier[];
  /** The last, authoritative tier. */
  readonly last: Tier;
  readonly fence: FillFence = new FillFence();
  readonly observer: Observer;
  /** A failed read below the top is a miss plus an `error` event (else it rejects). */
  readonly degrade: boolean;
  /** Whether upper tiers are read and filled (see `Coherence`); false until the bus subscription is live. */
  upperOpen = false;
  readonly #deadlines: DeadlineSweeper;

  constructor(tiers: readonly Tier[], observer: Observer, timeoutMs: number, degrade: boolean) {
    this.tiers = tiers;
    this.top = tiers[0]!;
    this.upper = tiers.slice(0, -1);
    this.last = tiers.at(-1)!;
    this.observer = observer;
    this.degrade = degrade;
    this.#deadlines = new DeadlineSweeper(timeoutMs);
  }

  /**
   * Runs a call of `tier` within `timeoutMs`: the tier's own limit if it has one that fits, else ours. A long
   * operation (`long`: `setMany`, a walk) of a tier that bounds its own steps is not bounded as a whole.
   */
  bounded<R>(tier: Tier, operation: string, call: () => Promise<R>, long = false): Promise<R> {
    return (long ? tier.stepBounded : tier.selfBounded) ? call() : this.#deadlines.run(operation, call);
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

  /** Rejects every call waiting on the time limit (the cache is closing). */
  abort(reason: (operation: string) => Error): void {
    this.#deadlines.abort(reason);
  }
}
