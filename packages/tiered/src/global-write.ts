import {
  type CacheProtocol,
  compileGlob,
  type Invalidation,
  invalidationsOfTags,
  UnsupportedOperationError,
} from '@strata-cache/core';
import type { Coherence } from './coherence.js';
import { ProtocolStore } from './protocol-store.js';
import type { TierSet } from './tier-set.js';

/** The most characters of tags one bus message carries (far below any bus's message limit). */
const TAGS_MESSAGE_CHARS = 64 * 1024;

/**
 * Writes of the whole keyspace (`deletePattern`, `clear`): the last tier walks it, then the change is published.
 * The tiers above drop what it may delete at the start, while the walk runs (an in-process walk costs next to
 * nothing beside the last tier's round trips), and no key it matches is filled until it ended. A walk is bounded
 * per step by a tier that bounds its own calls, never as a whole: on a healthy backend it is not cut off however long
 * it takes. A tier that declares no bound gets the cache's time limit on the whole call; if that rejects while the
 * walk goes on, the fence holds, and once the walk ended the tiers above drop what it matched again and the change
 * is published again, so that no instance keeps what it deleted.
 */
export class GlobalWrite {
  readonly #set: TierSet;
  readonly #coherence: Coherence;

  constructor(set: TierSet, coherence: Coherence) {
    this.#set = set;
    this.#coherence = coherence;
  }

  /** Deletes the keys matching `pattern` in every tier; resolves to the last tier's count. */
  deletePattern(pattern: string): Promise<number> {
    return this.#run(
      'deletePattern',
      (tier) => tier.deletePattern(pattern),
      { kind: 'pattern', pattern },
      compileGlob(pattern),
    );
  }

  /** Empties every tier (each only within its namespace). */
  async clear(): Promise<void> {
    await this.#run('clear', (tier) => tier.clear(), { kind: 'clear' }, undefined);
  }

  /**
   * Raises the versions of `tags` (distinct, valid) in the last tier, then publishes them: values written with an
   * older version are invalid from then on, here at once and elsewhere once the bus delivers it. No key is walked.
   * If the last tier fails, the tags may or may not have changed: the other instances are told to ask it again.
   */
  async invalidateTags(tags: readonly string[]): Promise<void> {
    const set = this.#set;
    const last = set.last;
    if (last.store instanceof ProtocolStore)
      throw new UnsupportedOperationError('invalidateTags', 'a last tier that is not a Strata store');
    // No run that began before joins a call from now on, and no fill read before lands.
    set.fence.touchAll();
    let versions: number[];
    try {
      versions = await set.bounded(last, 'invalidateTags', () => last.store.bumpTags(tags));
    } catch (error) {
      set.tags.heard(tags, undefined);
      for (const message of invalidationsOfTags(tags, undefined, TAGS_MESSAGE_CHARS))
        this.#coherence.publishUnknownEffect(message);
      throw set.observer.error('invalidateTags', error, last.index);
    }
    set.tags.heard(tags, versions);
    set.fence.touchAll();
    await Promise.all(
      invalidationsOfTags(tags, versions, TAGS_MESSAGE_CHARS).map((message) =>
        this.#coherence.publish(message),
      ),
    );
  }

  async #run<R>(
    operation: string,
    write: (tier: CacheProtocol) => Promise<R>,
    invalidation: Invalidation,
    matches: ((key: string) => boolean) | undefined,
  ): Promise<R> {
    const set = this.#set;
    const last = set.last;
    const ticket = set.fence.beginGlobalWrite(matches);
    const dropUpper = (): Promise<unknown> =>
      Promise.all(
        set.upper.map((tier) =>
          write(tier.cache).catch((e: unknown) => set.observer.error(operation, e, tier.index)),
        ),
      );
    let walking: Promise<R>;
    try {
      // Through the breaker before the walk starts: a walk refused by an open circuit never begins.
      set.admit(last, operation);
      walking = write(last.cache);
    } catch (error) {
      walking = Promise.reject(error);
    }
    // Its outcome is taken below; observed here too, so that no path leaves its rejection unhandled.
    walking.catch(() => {});
    // Once the walk's first command is on its way: an in-process walk of the tiers above then runs while the last
    // tier's replies are awaited, not before its first request. Meanwhile the fence keeps matching keys from being
    // filled, and before this call returns they are gone above.
    const droppedAtStart = new Promise<unknown>((resolve) => setImmediate(() => resolve(dropUpper())));
    let walkEnded = true;
    try {
      const result = await set.bounded(last, operation, () => walking, true, true);
      await this.#coherence.publish(invalidation);
      return result;
    } catch (error) {
      this.#coherence.publishUnknownEffect(invalidation);
      walkEnded = last.stepBounded;
      throw set.observer.error(operation, error, last.index);
    } finally {
      await droppedAtStart;
      set.watch.touchAll();
      if (walkEnded) set.fence.endGlobalWrite(ticket);
      else {
        void walking
          .catch(() => {})
          .then(async () => {
            await dropUpper();
            this.#coherence.publishUnknownEffect(invalidation);
            set.fence.endGlobalWrite(ticket);
          });
      }
    }
  }
}
