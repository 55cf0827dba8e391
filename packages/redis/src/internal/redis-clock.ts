import type { Cluster, Redis } from 'ioredis';

/** How often the offset is measured again while the adapter is open, in ms. */
const RESYNC_MS = 5_000;

/**
 * How fast this host's monotonic clock may drift from Redis's between two measurements: 500 ppm, the most NTP
 * ever slews a clock. The bounds widen by this much per ms since the last measurement.
 */
const DRIFT_PER_MS = 0.0005;

/** Added to every bound: Redis decides expiry in whole milliseconds. */
const BASE_MARGIN_MS = 1;

/**
 * Redis's clock as seen from this process: the offset between `performance.now()` and the server's `TIME`,
 * measured when the client becomes ready and again every few seconds until stopped. Writers stamp a value's
 * absolute expiry in Redis's time, and readers turn it back into a remaining TTL, so neither depends on this
 * host's wall clock agreeing with any other host's.
 *
 * Every reading is a bound, not a guess: {@link RedisClock.earliest} is never later than Redis's clock and
 * {@link RedisClock.latest} never earlier, given the measured round trip and a drift of at most 500 ppm since.
 * (A Cluster's nodes are taken to agree with each other, as Redis 7 itself assumes when it replicates expiry as
 * absolute times.)
 */
export class RedisClock {
  readonly #client: Redis | Cluster;
  readonly #timeoutMs: number;
  /** Redis time minus `performance.now()`, in ms; meaningful once `known`. */
  #offset = 0;
  /** Half the round trip of the measurement: how far off the offset may be. */
  #halfRttMs = 0;
  #measuredAt = Number.NEGATIVE_INFINITY;
  #known = false;
  /** The measurement in flight, if any. */
  #syncing: Promise<void> | undefined;
  /** Set while the client has just become ready and its clock is not measured yet: calls wait for it. */
  #gate: Promise<void> | undefined;
  /** Measures again every few seconds, from the first connect until `stop()`; never keeps the process alive. */
  #timer: ReturnType<typeof setInterval> | undefined;
  #stopped = false;

  /** `timeoutMs` bounds one measurement: past it, calls stop waiting for it. */
  constructor(client: Redis | Cluster, timeoutMs: number) {
    this.#client = client;
    this.#timeoutMs = timeoutMs;
  }

  /** Whether an offset has been measured: without one, values are written without expiry and TTLs read with PTTL. */
  get known(): boolean {
    return this.#known;
  }

  /**
   * While the client has just (re)connected and the offset is being measured, the promise of that measurement
   * (it never rejects): calls wait for it, since the server may be another host than before. `undefined` otherwise.
   */
  get gate(): Promise<void> | undefined {
    return this.#gate;
  }

  /**
   * Measures the offset now (the client just became ready, perhaps to another server): calls wait until it is done
   * (see `gate`). A second measurement follows, since the first command on a new connection is often slow.
   */
  connected(): void {
    if (this.#stopped) return;
    this.#timer ??= setInterval(() => void this.#measure(false), RESYNC_MS).unref();
    const gate = this.#measure(true);
    this.#gate = gate;
    void gate.then(() => {
      if (this.#gate === gate) this.#gate = undefined;
      void this.#measure(false);
    });
  }

  /** Stops measuring (the adapter is closing). */
  stop(): void {
    this.#stopped = true;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** The earliest Redis time it may be now, in epoch ms; only meaningful when `known`. */
  earliest(): number {
    const now = performance.now();
    return now + this.#offset - this.#margin(now);
  }

  /** The latest Redis time it may be now, in epoch ms; only meaningful when `known`. */
  latest(): number {
    const now = performance.now();
    return now + this.#offset + this.#margin(now);
  }

  #margin(now: number): number {
    return this.#halfRttMs + BASE_MARGIN_MS + (now - this.#measuredAt) * DRIFT_PER_MS;
  }

  /**
   * One `TIME` round trip; never rejects. The result replaces what was known if `replace` (a new connection), or if
   * it bounds Redis's time more tightly than the last one still does. A failure (refused by an ACL, a timeout)
   * keeps what was known.
   */
  #measure(replace: boolean): Promise<void> {
    if (this.#syncing !== undefined && !replace) return this.#syncing;
    const syncing = new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, this.#timeoutMs);
      timer.unref();
      const before = performance.now();
      this.#client.time().then(
        ([seconds, micros]) => {
          const after = performance.now();
          const redisMs = Number(seconds) * 1000 + Number(micros) / 1000;
          const halfRttMs = (after - before) / 2;
          const tighter =
            !this.#known || halfRttMs <= this.#halfRttMs + (after - this.#measuredAt) * DRIFT_PER_MS;
          if (Number.isFinite(redisMs) && (replace || tighter)) {
            this.#offset = redisMs - (before + after) / 2;
            this.#halfRttMs = halfRttMs;
            this.#measuredAt = after;
            this.#known = true;
          }
          clearTimeout(timer);
          resolve();
        },
        () => {
          clearTimeout(timer);
          resolve();
        },
      );
    }).finally(() => {
      if (this.#syncing === syncing) this.#syncing = undefined;
    });
    this.#syncing = syncing;
    return syncing;
  }
}
