import { CacheUnavailableError } from '@strata-cache/core';
import { DeadlineSweeper } from '@strata-cache/core/internal';

/** The part of an ioredis client the guard watches. */
export interface GuardedClient {
  readonly status: string;
  connect(): Promise<void>;
  once(event: 'ready', listener: () => void): unknown;
}

const NEVER: Promise<never> = new Promise<never>(() => {});

/**
 * Bounds every call to Redis by `timeoutMs` (a hung server, a reconnect loop, a first connect), and holds calls
 * issued while the client is not ready until it is, instead of letting the client queue them: a queued write
 * would otherwise be applied long after its caller was told it failed.
 */
export class CallGuard {
  readonly #client: GuardedClient;
  readonly #deadlines: DeadlineSweeper;
  readonly #gate: () => Promise<void> | undefined;
  #ready: Promise<void> | undefined;

  /** The longest a guarded call can take before it is rejected, in ms. */
  get boundMs(): number {
    return this.#deadlines.boundMs;
  }

  /**
   * While `gate()` returns a promise (work the adapter does on each connect), calls wait for it too; it must not
   * reject.
   */
  constructor(
    client: GuardedClient,
    timeoutMs: number,
    gate: () => Promise<void> | undefined = () => undefined,
  ) {
    this.#client = client;
    this.#gate = gate;
    this.#deadlines = new DeadlineSweeper(timeoutMs);
  }

  /**
   * Runs `send` within the time limit; client failures become `CacheUnavailableError` with the cause attached.
   * `beforeSend` runs right before it is sent (the adapter corks the socket for the tick there).
   */
  run<T>(operation: string, send: () => Promise<T>, beforeSend?: () => void): Promise<T> {
    const status = this.#client.status;
    if (status === 'end' || status === 'close') {
      return Promise.reject(new CacheUnavailableError(operation, `the Redis connection is ${status}`));
    }
    if (status === 'ready' && this.#gate() === undefined) {
      beforeSend?.();
      return this.#deadlines.run(operation, send);
    }
    // Only send if the caller is still waiting: one that timed out must not see its write land later.
    return this.#deadlines.run(operation, async (isLive) => {
      for (;;) {
        if (this.#client.status !== 'ready') await this.#whenReady();
        const gate = this.#gate();
        if (gate === undefined) break;
        await gate;
      }
      if (!isLive()) return NEVER;
      beforeSend?.();
      return send();
    });
  }

  /** Rejects every pending call (the adapter is closing). */
  abort(reason: (operation: string) => Error): void {
    this.#deadlines.abort(reason);
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
}
