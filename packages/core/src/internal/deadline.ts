import { CacheUnavailableError, toUnavailableError } from '../errors.js';

interface Pending {
  readonly operation: string;
  readonly deadline: number;
  readonly reject: (error: Error) => void;
  live: boolean;
}

/**
 * Bounds calls by a time limit: a call still running after `timeoutMs` rejects with `CacheUnavailableError`.
 * One sweeper timer serves every pending call (a timer per call costs measurably on a hot path); it runs only
 * while calls are pending and never keeps the process alive.
 */
export class DeadlineSweeper {
  /** The time limit of every call, in milliseconds. */
  readonly timeoutMs: number;
  /** The longest a call can take before it is rejected: the limit plus the sweeper's period. */
  readonly boundMs: number;
  readonly #pending = new Set<Pending>();
  readonly #every: number;
  #timer: ReturnType<typeof setInterval> | undefined;

  /** @throws {RangeError} unless `timeoutMs` is a positive integer. */
  constructor(timeoutMs: number) {
    if (!Number.isSafeInteger(timeoutMs) || timeoutMs < 1)
      throw new RangeError(`timeoutMs must be a positive integer (milliseconds), got ${timeoutMs}`);
    this.timeoutMs = timeoutMs;
    // Checking a few times per timeout bounds the overshoot to a fraction of it.
    this.#every = Math.max(5, Math.min(100, Math.floor(timeoutMs / 8)));
    this.boundMs = timeoutMs + this.#every;
  }

  /**
   * Runs `work` within the time limit. `isLive()` tells `work` whether its caller is still waiting, so that work
   * started late (after waiting for a connection, say) can be skipped once the caller was told it failed.
   * Failures other than `CacheError`s become `CacheUnavailableError` for `operation`, with the cause attached.
   */
  run<T>(operation: string, work: (isLive: () => boolean) => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const entry: Pending = { operation, deadline: performance.now() + this.timeoutMs, reject, live: true };
      this.#pending.add(entry);
      this.#timer ??= setInterval(() => this.#sweep(), this.#every).unref();
      let promise: Promise<T>;
      try {
        promise = work(() => entry.live);
      } catch (error) {
        promise = Promise.reject(error);
      }
      promise.then(
        (value) => {
          if (this.#settle(entry)) resolve(value);
        },
        (error: unknown) => {
          if (this.#settle(entry)) reject(toUnavailableError(operation, error));
        },
      );
    });
  }

  /** Rejects every pending call with `reason(operation)`. */
  abort(reason: (operation: string) => Error): void {
    for (const entry of this.#pending) {
      entry.live = false;
      entry.reject(reason(entry.operation));
    }
    this.#pending.clear();
    this.#stop();
  }

  #settle(entry: Pending): boolean {
    if (!entry.live) return false;
    entry.live = false;
    this.#pending.delete(entry);
    return true;
  }

  #stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #sweep(): void {
    const now = performance.now();
    for (const entry of this.#pending) {
      if (entry.deadline <= now && this.#settle(entry)) {
        entry.reject(new CacheUnavailableError(entry.operation, `no answer within ${this.timeoutMs} ms`));
      }
    }
    if (this.#pending.size === 0) this.#stop();
  }
}
