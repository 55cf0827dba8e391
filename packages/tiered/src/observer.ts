import { EventEmitter } from 'eventemitter3';
import type { BreakerState } from './breaker.js';
import type {
  TieredCacheEvents,
  TieredCacheStats,
  TieredLeaseWaitEvent,
  TieredLoadEvent,
  TieredStaleEvent,
} from './tiered-events.js';

/** The counters behind `stats()`. */
interface Counts {
  misses: number;
  sets: number;
  deletes: number;
  sent: number;
  received: number;
  resets: number;
  errors: number;
  loads: number;
  loadFailures: number;
  leaseWaits: number;
  staleAnswers: number;
  refreshes: number;
}

/**
 * What a `TieredCache` tells the world: its typed events (emitted here only, never by a listener) and the counters
 * behind `stats()`. Building an event costs on the hot path, so hits are announced only while someone listens.
 */
export class Observer {
  readonly emitter: EventEmitter<TieredCacheEvents> = new EventEmitter<TieredCacheEvents>();
  readonly counts: Counts = {
    misses: 0,
    sets: 0,
    deletes: 0,
    sent: 0,
    received: 0,
    resets: 0,
    errors: 0,
    loads: 0,
    loadFailures: 0,
    leaseWaits: 0,
    staleAnswers: 0,
    refreshes: 0,
  };
  readonly hits: number[];
  /** Per tier below the top: its circuit breaker's state (`closed` at the top, which has none). */
  readonly breakers: BreakerState[];

  constructor(tiers: number) {
    this.hits = Array.from({ length: tiers }, () => 0);
    this.breakers = Array.from({ length: tiers }, (): BreakerState => 'closed');
  }

  /** A read of `key` answered by tier `tier`. */
  hit(key: string, tier: number): void {
    this.hits[tier]!++;
    if (this.emitter.listenerCount('hit') > 0) this.emitter.emit('hit', { key, tier });
  }

  /** Tier `tier`'s circuit breaker changed state. */
  breaker(tier: number, state: BreakerState): void {
    this.breakers[tier] = state;
    this.emitter.emit('breaker', { tier, state });
  }

  /** A read of `key` was answered with a copy `staleMs` past its fresh time (or unverified), for `reason`. */
  stale(key: string, reason: TieredStaleEvent['reason'], staleMs: number): void {
    this.counts.staleAnswers++;
    this.emitter.emit('stale', { key, reason, staleMs });
  }

  /** A loader run ended. */
  load(event: TieredLoadEvent): void {
    this.emitter.emit('load', event);
  }

  /** A wait for another instance's lease ended. */
  leaseWait(key: string, waitedMs: number, outcome: TieredLeaseWaitEvent['outcome']): void {
    this.emitter.emit('lease-wait', { key, waitedMs, outcome });
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
      breakers: [...this.breakers],
      loads: c.loads,
      loadFailures: c.loadFailures,
      leaseWaits: c.leaseWaits,
      staleAnswers: c.staleAnswers,
      refreshes: c.refreshes,
    };
  }
}
