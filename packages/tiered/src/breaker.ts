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
   * How long an open circuit fails calls at once before one call goes through as a probe, in ms: if it succeeds the
   * circuit closes, if it fails it opens again for as long.
   * @default 1000
   */
  readonly cooldownMs?: number;
}

/**
 * A circuit breaker: after `failures` consecutive failures of a tier, its calls fail at once (microseconds, not the
 * time limit) for `cooldownMs`; then one call probes it, and closes the circuit if it answers.
 */
export class Breaker {
  readonly #failures: number;
  readonly #cooldownMs: number;
  readonly #onChange: (state: BreakerState) => void;
  #state: BreakerState = 'closed';
  #consecutive = 0;
  #openedAt = 0;
  #probing = false;

  constructor(options: Required<BreakerOptions>, onChange: (state: BreakerState) => void) {
    this.#failures = options.failures;
    this.#cooldownMs = options.cooldownMs;
    this.#onChange = onChange;
  }

  /** The current state. */
  get state(): BreakerState {
    return this.#state;
  }

  /** Whether a call may go to the tier now (an open circuit past its cool-down lets one probe through). */
  allow(): boolean {
    if (this.#state === 'closed') return true;
    if (this.#state === 'open') {
      if (performance.now() - this.#openedAt < this.#cooldownMs) return false;
      this.#set('half-open');
    }
    if (this.#probing) return false;
    this.#probing = true;
    return true;
  }

  /** A call succeeded. */
  success(): void {
    if (this.#consecutive === 0 && this.#state === 'closed') return;
    this.#consecutive = 0;
    this.#probing = false;
    if (this.#state !== 'closed') this.#set('closed');
  }

  /** A call failed; only the tier's unavailability counts (bad input or data does not). */
  failure(error: unknown): void {
    if (!(error instanceof CacheError) || error.code !== 'CACHE_UNAVAILABLE') {
      this.#probing = false;
      return;
    }
    this.#consecutive++;
    if (this.#state === 'half-open' || this.#consecutive >= this.#failures) {
      this.#probing = false;
      this.#openedAt = performance.now();
      if (this.#state !== 'open') this.#set('open');
    }
  }

  #set(state: BreakerState): void {
    this.#state = state;
    this.#onChange(state);
  }
}
