import type { CacheEntry, CacheItems, CacheProtocol, EntryReader } from '@strata-cache/core';

/** A read whose reply is held back: `answered` resolves once the lower tier has answered, `release()` lets it go. */
export interface HeldRead {
  /** Resolves with what the lower tier answered, before the caller sees it. */
  readonly answered: Promise<unknown>;
  release(): void;
}

/**
 * A view of a shared L2 through which one instance reads, where the demo can hold the next read's reply in flight:
 * the value is read from L2 at once (the reply "left Redis"), and handed to the caller only on `release()`. That
 * is a slow network made deterministic, so the demo can replay the stale-refill race step by step.
 */
export class HeldReplyTier implements CacheProtocol, EntryReader {
  readonly #inner: CacheProtocol & EntryReader;
  #hold: { answered: (value: unknown) => void; released: Promise<void> } | undefined;

  constructor(inner: CacheProtocol & EntryReader) {
    this.#inner = inner;
  }

  /** Holds the reply of the next read of one key (`get`, `getEntry` or `getManyEntries`). */
  holdNextRead(): HeldRead {
    let answered!: (value: unknown) => void;
    let release!: () => void;
    const answeredPromise = new Promise<unknown>((resolve) => {
      answered = resolve;
    });
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    this.#hold = { answered, released };
    return { answered: answeredPromise, release };
  }

  async #held<R>(read: () => Promise<R>, answerOf: (reply: R) => unknown): Promise<R> {
    const hold = this.#hold;
    this.#hold = undefined;
    const reply = await read();
    if (hold !== undefined) {
      hold.answered(answerOf(reply));
      await hold.released;
    }
    return reply;
  }

  get<T = unknown>(key: string): Promise<T | undefined> {
    return this.#held(
      () => this.#inner.get<T>(key),
      (v) => v,
    );
  }

  getEntry<T = unknown>(key: string): Promise<CacheEntry<T> | undefined> {
    return this.#held(
      () => this.#inner.getEntry<T>(key),
      (e) => e?.value,
    );
  }

  getManyEntries<T = unknown>(keys: readonly string[]): Promise<Map<string, CacheEntry<T>>> {
    return this.#held(
      () => this.#inner.getManyEntries<T>(keys),
      (m) => [...m.values()][0]?.value,
    );
  }

  set(key: string, value: unknown, ttl?: number | null): Promise<void> {
    return this.#inner.set(key, value, ttl);
  }

  delete(key: string): Promise<void> {
    return this.#inner.delete(key);
  }

  exists(key: string): Promise<boolean> {
    return this.#inner.exists(key);
  }

  getMany<T = unknown>(keys: readonly string[]): Promise<Map<string, T>> {
    return this.#inner.getMany<T>(keys);
  }

  setMany(items: CacheItems, ttl?: number | null): Promise<void> {
    return this.#inner.setMany(items, ttl);
  }

  deletePattern(pattern: string): Promise<number> {
    return this.#inner.deletePattern(pattern);
  }

  ttl(key: string): Promise<number | undefined> {
    return this.#inner.ttl(key);
  }

  clear(): Promise<void> {
    return this.#inner.clear();
  }
}
