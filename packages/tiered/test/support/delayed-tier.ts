import {
  type CacheStore,
  type Entry,
  type EntryWrite,
  type InvalidationBus,
  StoreCache,
  type StoreWriteOptions,
} from '@strata-cache/core';
import type { MemoryCacheAdapter } from '@strata-cache/memory';

/** Called around every operation: `before` models the request's trip, `after` the reply's. */
export type Delay = (label: string) => Promise<void>;

/**
 * One instance's view of a shared store: every call reaches the shared store only after `delay('… request')`, and
 * its reply reaches the caller only after `delay('… reply')`. Tests pass a scheduler or a gate as `delay`, so that a
 * read can be answered by the shared store before a concurrent write, and delivered after it. With `announceOn`, it
 * announces its writes on that bus the way the Redis store does: right after applying them, before any later call is
 * applied, without waiting for the reply.
 */
export class DelayedStore implements CacheStore {
  /** Settles once every call issued so far has reached the shared store and run there (or failed). */
  #issued: Promise<void> = Promise.resolve();
  /** What it declares about its calls' time; tests set it to see the cache trust (or not) a bound. */
  callBoundMs: number | undefined = undefined;

  constructor(
    readonly inner: CacheStore,
    readonly delay: Delay,
    readonly announceOn?: InvalidationBus,
  ) {}

  #call<R>(name: string, run: () => R | Promise<R>, announce?: () => void): Promise<R> {
    const applied = this.delay(`${name} request`).then(async () => {
      const result = await run();
      announce?.();
      return result;
    });
    this.#issued = Promise.allSettled([this.#issued, applied]).then(() => {});
    return applied.then(async (result) => {
      await this.delay(`${name} reply`);
      return result;
    });
  }

  #announcing(keys: readonly string[], options: StoreWriteOptions | undefined): (() => void) | undefined {
    const bus = options?.announce;
    if (bus === undefined || bus !== this.announceOn) return undefined;
    return () => void bus.publish({ kind: 'keys', keys });
  }

  now(): number {
    return this.inner.now();
  }
  get(key: string): Promise<Entry | undefined> {
    return this.#call(`getEntry(${key})`, () => this.inner.get(key));
  }
  getMany(keys: readonly string[]): Promise<Array<Entry | undefined>> {
    return this.#call(`getManyEntries(${keys})`, () => this.inner.getMany(keys));
  }
  set(key: string, entry: EntryWrite, options?: StoreWriteOptions): Promise<void> {
    return this.#call(`set(${key})`, () => this.inner.set(key, entry), this.#announcing([key], options));
  }
  setMany(entries: ReadonlyArray<readonly [string, EntryWrite]>, options?: StoreWriteOptions): Promise<void> {
    const keys = entries.map(([key]) => key);
    return this.#call('setMany', () => this.inner.setMany(entries), this.#announcing(keys, options));
  }
  compareAndSet(
    key: string,
    expected: string | null,
    entry: EntryWrite | null,
    options?: StoreWriteOptions,
  ): Promise<boolean> {
    return this.#call(
      `compareAndSet(${key})`,
      () => this.inner.compareAndSet(key, expected, entry),
      this.#announcing([key], options),
    );
  }
  tagVersions(tags: readonly string[]): Promise<number[]> {
    return this.#call(`tagVersions(${tags})`, async () => this.inner.tagVersions(tags));
  }
  bumpTags(tags: readonly string[]): Promise<number[]> {
    return this.#call(`bumpTags(${tags})`, () => this.inner.bumpTags(tags));
  }
  delete(keys: readonly string[], options?: StoreWriteOptions): Promise<number> {
    return this.#call(`delete(${keys})`, () => this.inner.delete(keys), this.#announcing(keys, options));
  }
  clear(): Promise<void> {
    return this.#call('clear', () => this.inner.clear());
  }
  scan(pattern: string): AsyncIterable<readonly string[]> {
    return this.inner.scan(pattern);
  }
  announcesOn(bus: InvalidationBus): boolean {
    return bus === this.announceOn;
  }
  async close(): Promise<void> {}
}

/**
 * A tier over a shared memory cache's store, seen through a {@link DelayedStore}; its `deletePattern` and `clear` are
 * delayed as one call each (`deletePattern(…)`, `clear`), as a walk of a large keyspace is.
 */
export class DelayedTier extends StoreCache {
  declare readonly store: DelayedStore;

  constructor(inner: MemoryCacheAdapter, delay: Delay, announceOn?: InvalidationBus) {
    super(new DelayedStore(inner.store, delay, announceOn), { codec: inner.codec });
  }

  override deletePattern(pattern: string): Promise<number> {
    return this.#walk(`deletePattern(${pattern})`, () => super.deletePattern(pattern));
  }

  override clear(): Promise<void> {
    return this.#walk('clear', () => super.clear());
  }

  async #walk<R>(name: string, run: () => Promise<R>): Promise<R> {
    const { delay } = this.store;
    await delay(`${name} request`);
    const result = await run();
    await delay(`${name} reply`);
    return result;
  }
}

/** A delay that holds every reply (not request: the shared store still executes it) while the gate is closed. */
export class Gate {
  #open: Promise<void> | undefined;
  #release: (() => void) | undefined;

  readonly delay: Delay = async (label) => {
    if (this.#open !== undefined && label.endsWith('reply')) await this.#open;
  };

  close(): void {
    this.#open ??= new Promise<void>((resolve) => {
      this.#release = resolve;
    });
  }

  open(): void {
    this.#release?.();
    this.#open = undefined;
    this.#release = undefined;
  }
}

/** Lets queued microtasks and immediate callbacks run. */
export const settle = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 0));
