import { EventEmitter } from 'eventemitter3';
import type { TieredCacheEvents, TieredCacheStats } from './tiered-events.js';

/** The counters behind `stats()`. */
interface Counts {
  misses: number;
  sets: number;
  deletes: number;
  sent: number;
  received: number;
  resets: number;
  errors: number;
}

/**
 * What a `TieredCache` tells the world: its typed events (emitted here only, never by a listener) and the counters
 * behind `stats()`. Building an event costs on the hot path, so hits are announced only while someone listens.
 */
export class Observer {
  readonly emitter: EventEmitter<TieredCacheEvents> = new EventEmitter<TieredCacheEvents>();
  readonly counts: Counts = { misses: 0, sets: 0, deletes: 0, sent: 0, received: 0, resets: 0, errors: 0 };
  readonly hits: number[];

  constructor(tiers: number) {
    this.hits = Array.from({ length: tiers }, () => 0);
  }

  /** A read of `key` answered by tier `tier`. */
  hit(key: string, tier: number): void {
    this.hits[tier]!++;
    if (this.emitter.listenerCount('hit') > 0) this.emitter.emit('hit', { key, tier });
  }

  /** Reports a failure as an `error` event; returns it as an `Error`. */
  error(operation: string, error: unknown, tier?: number): Error {
    const err = error instanceof Error ? error : new Error(String(error));
    this.counts.errors++;
    this.emitter.emit(
      'error',
      tier === undefined ? { operation, error: err } : { operation, error: err, tier },
    );
    return err;
  }

  /** The counters since creation; `fenceRejections` comes from the fill fence. */
  stats(fenceRejections: number): TieredCacheStats {
    const c = this.counts;
    return {
      hits: [...this.hits],
      misses: c.misses,
      sets: c.sets,
      deletes: c.deletes,
      invalidationsSent: c.sent,
      invalidationsReceived: c.received,
      resets: c.resets,
      errors: c.errors,
      fenceRejections,
    };
  }
}
