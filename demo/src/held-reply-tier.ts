import {
  type CacheStore,
  type Entry,
  type EntryWrite,
  type InvalidationBus,
  StoreCache,
} from '@strata-cache/core';
import type { MemoryCacheAdapter } from '@strata-cache/memory';

/** A read whose reply is held back: `answered` resolves once the lower tier has answered, `release()` lets it go. */
export interface HeldRead {
  /** Resolves with what the lower tier answered, before the caller sees it. */
  readonly answered: Promise<unknown>;
  release(): void;
}

/** A store whose next read's reply can be held in flight (see {@link HeldReplyTier}). */
class HeldReplyStore implements CacheStore {
  readonly callBoundMs: number | undefined;
  readonly #inner: CacheStore;
  #hold: { answered: (entry: Entry | undefined) => void; released: Promise<void> } | undefined;

  constructor(inner: CacheStore) {
    this.#inner = inner;
    this.callBoundMs = inner.callBoundMs;
  }

  hold(): { answered: Promise<Entry | undefined>; release: () => void } {
    let answered!: (entry: Entry | undefined) => void;
    let release!: () => void;
    const answeredPromise = new Promise<Entry | undefined>((resolve) => {
      answered = resolve;
    });
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    this.#hold = { answered, released };
    return { answered: answeredPromise, release };
  }

  async #held<R>(read: () => R | Promise<R>, entryOf: (reply: R) => Entry | undefined): Promise<R> {
    const hold = this.#hold;
    this.#hold = undefined;
    const reply = await read();
    if (hold !== undefined) {
      hold.answered(entryOf(reply));
      await hold.released;
    }
    return reply;
  }

  now(): number {
    return this.#inner.now();
  }
  get(key: string): Promise<Entry | undefined> {
    return this.#held(
      () => this.#inner.get(key),
      (entry) => entry,
    );
  }
  getMany(keys: readonly string[]): Promise<Array<Entry | undefined>> {
    return this.#held(
      () => this.#inner.getMany(keys),
      (entries) => entries[0],
    );
  }
  async set(key: string, entry: EntryWrite): Promise<void> {
    await this.#inner.set(key, entry);
  }
  setMany(entries: ReadonlyArray<readonly [string, EntryWrite]>): Promise<void> {
    return this.#inner.setMany(entries);
  }
  compareAndSet(key: string, expected: string | null, entry: EntryWrite | null): Promise<boolean> {
    return this.#inner.compareAndSet(key, expected, entry);
  }
  tagVersions(tags: readonly string[]): number[] | Promise<number[]> {
    return this.#inner.tagVersions(tags);
  }
  bumpTags(tags: readonly string[]): Promise<number[]> {
    return this.#inner.bumpTags(tags);
  }
  async delete(keys: readonly string[]): Promise<number> {
    return this.#inner.delete(keys);
  }
  async clear(): Promise<void> {
    await this.#inner.clear();
  }
  scan(pattern: string): AsyncIterable<readonly string[]> {
    return this.#inner.scan(pattern);
  }
  announcesOn(bus: InvalidationBus): boolean {
    return this.#inner.announcesOn(bus);
  }
  async close(): Promise<void> {}
}

/**
 * A view of a shared L2 through which one instance reads, where the demo can hold the next read's reply in flight:
 * the value is read from L2 at once (the reply "left Redis"), and handed to the caller only on `release()`. That
 * is a slow network made deterministic, so the demo can replay the stale-refill race step by step.
 */
export class HeldReplyTier extends StoreCache {
  declare readonly store: HeldReplyStore;

  constructor(inner: MemoryCacheAdapter) {
    super(new HeldReplyStore(inner.store), { codec: inner.codec });
  }

  /** Holds the reply of the next read of one key (`get` or `getMany`). */
  holdNextRead(): HeldRead {
    const { answered, release } = this.store.hold();
    return {
      answered: answered.then((entry) => (entry === undefined ? undefined : this.codec.decode(entry.text))),
      release,
    };
  }
}
