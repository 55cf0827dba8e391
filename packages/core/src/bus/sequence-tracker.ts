import type { BusMessage } from './bus.js';

/**
 * Tracks the last sequence number seen per origin (and stream) and tells when one was skipped (a lost message).
 * Memory is bounded: origins not heard from in a while are forgotten once `maxOrigins` streams are tracked.
 */
export class SequenceTracker {
  readonly #last = new Map<string, number>();
  readonly #maxOrigins: number;

  constructor(maxOrigins = 10_000) {
    this.#maxOrigins = maxOrigins;
  }

  /**
   * Records `message`; true when it follows the previous message of its origin and stream without a gap (or is the
   * first).
   */
  accept(message: Pick<BusMessage, 'origin' | 'seq' | 'stream'>): boolean {
    // The origin's length first, so that no two (origin, stream) pairs share an id (a stream is never empty).
    const id = `${message.origin.length}:${message.origin}${message.stream ?? ''}`;
    const last = this.#last.get(id);
    if (last !== undefined) this.#last.delete(id);
    else if (this.#last.size >= this.#maxOrigins) {
      const oldest = this.#last.keys().next();
      if (!oldest.done) this.#last.delete(oldest.value);
    }
    this.#last.set(id, Math.max(last ?? 0, message.seq));
    return last === undefined || message.seq === last + 1;
  }

  /** Forgets every origin (after a reset, the next message of each origin starts afresh). */
  reset(): void {
    this.#last.clear();
  }
}
