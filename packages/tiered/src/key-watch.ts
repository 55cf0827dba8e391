/** Interest in one key, registered before the key is read, so that no change between the read and the wait is missed. */
export interface Watcher {
  /** Resolves once the key may have changed since the watcher was made (or it was cancelled); never rejects. */
  readonly changed: Promise<void>;
  /** Stops watching; `changed` resolves. */
  cancel(): void;
}

/**
 * Lets a caller wait until a key may have changed: an invalidation of it arrived, a local write of it ended, or
 * anything broader happened (a pattern, a `clear`, a reset). What a `getOrSet` waiting for another instance's lease
 * is woken by, instead of polling.
 */
export class KeyWatch {
  readonly #waiters = new Map<string, Set<() => void>>();

  /** Starts watching `key`. */
  watch(key: string): Watcher {
    let wake!: () => void;
    const changed = new Promise<void>((resolve) => {
      wake = (): void => {
        const left = this.#waiters.get(key);
        if (left !== undefined) {
          left.delete(wake);
          if (left.size === 0) this.#waiters.delete(key);
        }
        resolve();
      };
    });
    let waiters = this.#waiters.get(key);
    if (waiters === undefined) {
      waiters = new Set();
      this.#waiters.set(key, waiters);
    }
    waiters.add(wake);
    return { changed, cancel: wake };
  }

  /** `keys` may have changed. */
  touch(keys: readonly string[]): void {
    if (this.#waiters.size === 0) return;
    for (const key of keys) {
      const waiters = this.#waiters.get(key);
      if (waiters !== undefined) for (const wake of [...waiters]) wake();
    }
  }

  /** Any key may have changed. */
  touchAll(): void {
    if (this.#waiters.size === 0) return;
    for (const waiters of [...this.#waiters.values()]) for (const wake of [...waiters]) wake();
  }
}
