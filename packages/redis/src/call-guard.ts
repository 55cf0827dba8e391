import { CacheUnavailableError, toUnavailableError } from '@strata-cache/core';

/** The part of an ioredis client the guard watches. */
export interface GuardedClient {
  readonly status: string;
  connect(): Promise<void>;
  once(event: 'ready', listener: () => void): unknown;
}

interface Pending {
  readonly operation: string;
  readonly deadline: number;
  readonly reject: (error: Error) => void;
}

/**
 * Bounds every call to the backend by `timeoutMs`: a call rejects with `CacheUnavailableError` once its time is up,
 * whatever the client does (a hung server, a reconnect loop, a first connect). One sweeper timer serves every
 * pending call, since a timer per command costs measurably on the hot path.
 *
 * A call issued while the client is not ready waits for readiness instead of being queued inside the client: a
 * queued write would otherwise be applied long after its caller was told it failed.
 */
export class CallGuard {
  readonly #client: GuardedClient;
  readonly #timeoutMs: number;
  readonly #pending = new Set<Pending>();
  #sweeper: ReturnType<typeof setInterval> | undefined;
  #ready: Promise<void> | undefined;

  constructor(client: GuardedClient, timeoutMs: number) {
    this.#client = client;
    this.#timeoutMs = timeoutMs;
  }

  /** Runs `send` within the time limit; client failures become `CacheUnavailableError` with the cause attached. */
  run<T>(operation: string, send: () => Promise<T>): Promise<T> {
    const status = this.#client.status;
    if (status === 'end' || status === 'close') {
      return Promise.reject(new CacheUnavailableError(operation, `the Redis connection is ${status}`));
    }
    return new Promise<T>((resolve, reject) => {
      const entry: Pending = { operation, deadline: performance.now() + this.#timeoutMs, reject };
      this.#pending.add(entry);
      this.#startSweeper();
      const settle = (promise: Promise<T>): void => {
        promise.then(
          (value) => {
            if (this.#pending.delete(entry)) resolve(value);
          },
          (error: unknown) => {
            if (this.#pending.delete(entry)) reject(toUnavailableError(operation, error));
          },
        );
      };
      if (status === 'ready') {
        settle(send());
        return;
      }
      // Only send if the caller is still waiting: one that timed out must not see its write land later.
      settle(this.#whenReady().then(() => (this.#pending.has(entry) ? send() : new Promise<T>(() => {}))));
    });
  }

  /** Rejects every pending call (the adapter is closing). */
  abort(reason: (operation: string) => Error): void {
    for (const entry of this.#pending) entry.reject(reason(entry.operation));
    this.#pending.clear();
    this.#stopSweeper();
  }

  #whenReady(): Promise<void> {
    this.#ready ??= new Promise<void>((resolve) => {
      this.#client.once('ready', () => {
        this.#ready = undefined;
        resolve();
      });
      // A lazily connecting client only connects when asked; failures surface as timeouts of the waiting calls.
      if (this.#client.status === 'wait') this.#client.connect().catch(() => {});
    });
    return this.#ready;
  }

  #startSweeper(): void {
    if (this.#sweeper !== undefined) return;
    // Checking a few times per timeout bounds the overshoot to a fraction of it.
    const every = Math.max(5, Math.min(100, Math.floor(this.#timeoutMs / 8)));
    this.#sweeper = setInterval(() => this.#sweep(), every);
    this.#sweeper.unref();
  }

  #stopSweeper(): void {
    if (this.#sweeper !== undefined) clearInterval(this.#sweeper);
    this.#sweeper = undefined;
  }

  #sweep(): void {
    const now = performance.now();
    for (const entry of this.#pending) {
      if (entry.deadline <= now) {
        this.#pending.delete(entry);
        entry.reject(
          new CacheUnavailableError(entry.operation, `no answer from Redis within ${this.#timeoutMs} ms`),
        );
      }
    }
    if (this.#pending.size === 0) this.#stopSweeper();
  }
}
