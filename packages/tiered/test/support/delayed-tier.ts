import type { CacheEntry, CacheItems, CacheProtocol, EntryReader } from '@strata-cache/core';

/** Called around every operation: `before` models the request's trip, `after` the reply's. */
export type Delay = (label: string) => Promise<void>;

/**
 * One instance's view of a shared tier: every call reaches the shared tier only after `delay('… request')`, and
 * its reply reaches the caller only after `delay('… reply')`. Tests pass a scheduler or a gate as `delay`, so
 * that a read can be answered by the shared tier before a concurrent write, and delivered after it.
 */
export class DelayedTier implements CacheProtocol, EntryReader {
  constructor(
    readonly inner: CacheProtocol & EntryReader,
    readonly delay: Delay,
  ) {}

  /** Settles once every call issued so far has reached the shared tier and run there (or failed). */
  #issued: Promise<void> = Promise.resolve();

  #call<R>(name: string, run: () => Promise<R>): Promise<R> {
    const applied = this.delay(`${name} request`).then(run);
    this.#issued = Promise.allSettled([this.#issued, applied]).then(() => {});
    return applied.then(async (result) => {
      await this.delay(`${name} reply`);
      return result;
    });
  }

  /**
   * Resolves once every call issued so far has been applied by the shared tier: what a message sent on the same
   * Redis connection right after them waits for (see `PairedBus`).
   */
  whenIssuedApplied(): Promise<void> {
    return this.#issued;
  }

  get<T>(key: string): Promise<T | undefined> {
    return this.#call(`get(${key})`, () => this.inner.get<T>(key));
  }
  getEntry<T>(key: string): Promise<CacheEntry<T> | undefined> {
    return this.#call(`getEntry(${key})`, () => this.inner.getEntry<T>(key));
  }
  getManyEntries<T>(keys: readonly string[]): Promise<Map<string, CacheEntry<T>>> {
    return this.#call(`getManyEntries(${keys})`, () => this.inner.getManyEntries<T>(keys));
  }
  set(key: string, value: unknown, ttl?: number | null): Promise<void> {
    return this.#call(`set(${key})`, () => this.inner.set(key, value, ttl));
  }
  delete(key: string): Promise<void> {
    return this.#call(`delete(${key})`, () => this.inner.delete(key));
  }
  exists(key: string): Promise<boolean> {
    return this.#call(`exists(${key})`, () => this.inner.exists(key));
  }
  getMany<T>(keys: readonly string[]): Promise<Map<string, T>> {
    return this.#call(`getMany(${keys})`, () => this.inner.getMany<T>(keys));
  }
  setMany(items: CacheItems, ttl?: number | null): Promise<void> {
    return this.#call('setMany', () => this.inner.setMany(items, ttl));
  }
  deletePattern(pattern: string): Promise<number> {
    return this.#call(`deletePattern(${pattern})`, () => this.inner.deletePattern(pattern));
  }
  ttl(key: string): Promise<number | undefined> {
    return this.#call(`ttl(${key})`, () => this.inner.ttl(key));
  }
  clear(): Promise<void> {
    return this.#call('clear', () => this.inner.clear());
  }
}

/** A delay that holds every reply (not request: the shared tier still executes it) while the gate is closed. */
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
