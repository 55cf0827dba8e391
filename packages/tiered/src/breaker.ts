import { CacheError } from '@strata-cache/core';

/** The state of a tier's circuit breaker. */
export type BreakerState = 'closed' | 'open' | 'half-open';

/** Settings of the circuit breaker of each tier below the top. */
export interface BreakerOptions {
  /**
   * Consecutive failures (a tier unavailable or timing out) that open the circuit: calls then fail at once.
   * @default 5
   */
  readonly failures?: number;
  /**
   * While the circuit is open, how often the tier is probed in the background (one read that no caller waits on),
   * in ms: the first probe that succeeds closes it.
   * @default 500
   */
  readonly cooldownMs?: number;
}

/**
 * A circuit breaker: after `failures` consecutive failures of a tier, its calls fail at once (microseconds, not the
 * time limit); meanwhile a background probe asks the tier every `cooldownMs` (`half-open` while it runs), and the
 * circuit closes as soon as the tier answers, a probe or any call still in flight.
 */
export class Breaker {
  readonly #failures: number;
  readonly #cooldownMs: number;
  readonly #onChange: (state: BreakerState) => void;
  readonly #probe: () => Promise<unknown>;
  #state: BreakerState = 'closed';
  #consecutive = 0;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(
    options: Required<BreakerOptions>,
    onChange: (state: BreakerState) => void,
    probe: () => Promise<unknown>,
  ) {
    this.#failures = options.failures;
    this.#cooldownMs = options.cooldownMs;
    this.#onChange = onChange;
    this.#probe = probe;
  }

  /** The current state. */
  get state(): BreakerState {
    return this.#state;
  }

  /** Whether a call may go to the tier now. */
  allow(): boolean {
    return this.#state === 'closed';
  }

  /** A call succeeded: the tier answers. */
  success(): void {
    this.#consecutive = 0;
    if (this.#state !== 'closed') this.#close();
  }

  /** A call failed; only the tier's unavailability counts (bad input or data does not). */
  failure(error: unknown): void {
    if (!(error instanceof CacheError) || error.code !== 'CACHE_UNAVAILABLE') return;
    if (this.#state !== 'closed') return;
    if (++this.#consecutive >= this.#failures) this.#open();
  }

  /** Stops probing (the cache is closing). */
  stop(): void {
    this.#stopped = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #open(): void {
    this.#set('open');
    this.#schedule();
  }

  #close(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#set('closed');
  }

  #schedule(): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (this.#state !== 'open' || this.#stopped) return;
      this.#set('half-open');
      this.#probe().then(
        () => {
          if (this.#state === 'half-open') this.success();
        },
        () => {
          if (this.#state !== 'half-open') return;
          this.#set('open');
          this.#schedule();
        },
      );
    }, this.#cooldownMs);
    this.#timer.unref();
  }

  #set(state: BreakerState): void {
    this.#state = state;
    this.#onChange(state);
  }
}
