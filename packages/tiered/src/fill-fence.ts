import { compileGlob } from '@strata-cache/core';

/** Which keys a whole-keyspace change touches: those matching a compiled Redis glob, or every key (`undefined`). */
export type KeyMatcher = ((key: string) => boolean) | undefined;

/** A pattern's change of the keys it matches, at a tick of the fence's clock. */
interface PatternStamp {
  readonly matches: (key: string) => boolean;
  readonly tick: number;
}

/**
 * Decides whether a value read from (or written to) a lower tier may be installed in the tiers above.
 *
 * Every operation takes a ticket from a logical clock when it starts. Invalidations stamp what they touch with a
 * later tick: a key, the keys matching a pattern, or (a `clear`, a bus reset) everything, the epoch. A fill is
 * allowed only if nothing touched its key since its ticket and no local write of that key (or of a pattern matching
 * it, or of everything) is still in flight. So a value read before an invalidation can never be installed after it:
 * the "stale refill" race. A pattern holds back only the fills of keys it matches.
 *
 * Stamps are kept only while an operation that could compare against them is in flight, so memory stays
 * proportional to the concurrency, not to the key space.
 */
export class FillFence {
  #clock = 0;
  #epoch = 0;
  /** key → tick of its last invalidation; insertion order is tick order (entries are moved on update). */
  readonly #stamps = new Map<string, number>();
  /** Patterns' invalidations, in tick order. */
  #patternStamps: PatternStamp[] = [];
  /** tickets of operations in flight, in ascending order. */
  readonly #inFlight = new Set<number>();
  /** key → local writes of it in flight. */
  readonly #writing = new Map<string, number>();
  /** Local `deletePattern`s (their matchers) and `clear`s (`undefined`) in flight, by ticket. */
  readonly #globalWrites = new Map<number, KeyMatcher>();
  /** How many of those are `clear`s: while one is in flight, nothing is filled. */
  #clears = 0;
  /** How many fills were refused. */
  rejections = 0;

  /** Starts an operation: returns its ticket. Pair with {@link FillFence.end}. */
  begin(): number {
    const ticket = ++this.#clock;
    this.#inFlight.add(ticket);
    return ticket;
  }

  /** Ends the operation holding `ticket`, forgetting stamps no other operation can still compare against. */
  end(ticket: number): void {
    this.#inFlight.delete(ticket);
    const oldest = this.#inFlight.values().next();
    if (oldest.done) {
      this.#stamps.clear();
      if (this.#patternStamps.length > 0) this.#patternStamps = [];
      return;
    }
    for (const [key, tick] of this.#stamps) {
      if (tick >= oldest.value) break;
      this.#stamps.delete(key);
    }
    if (this.#patternStamps.length > 0 && this.#patternStamps[0]!.tick < oldest.value)
      this.#patternStamps = this.#patternStamps.filter((stamp) => stamp.tick >= oldest.value);
  }

  /** Records that `key` may have changed (an invalidation received, or a local write starting). */
  touch(key: string): number {
    const tick = ++this.#clock;
    this.#stamps.delete(key);
    this.#stamps.set(key, tick);
    return tick;
  }

  /** Records that the keys `matches` accepts (every key: `undefined`) may have changed. */
  touchMatching(matches: KeyMatcher): void {
    const tick = ++this.#clock;
    if (matches === undefined) this.#epoch = tick;
    // Only an operation in flight can compare against it.
    else if (this.#inFlight.size > 0) this.#patternStamps.push({ matches, tick });
  }

  /** Records that the keys matching the Redis glob `pattern` may have changed (a pattern invalidation received). */
  touchPattern(pattern: string): void {
    this.touchMatching(compileGlob(pattern));
  }

  /** Records that any key may have changed (a `clear`, a bus reset). */
  touchAll(): void {
    this.touchMatching(undefined);
  }

  /** Marks a local write of `key` as in flight; it touches the key and returns its ticket. */
  beginWrite(key: string): number {
    this.#writing.set(key, (this.#writing.get(key) ?? 0) + 1);
    const ticket = this.begin();
    this.touch(key);
    return ticket;
  }

  /** Ends a local write of `key` begun with {@link FillFence.beginWrite}. */
  endWrite(key: string, ticket: number): void {
    const left = (this.#writing.get(key) ?? 1) - 1;
    if (left === 0) this.#writing.delete(key);
    else this.#writing.set(key, left);
    // A read that overlapped this write in any way may have seen the lower tier before it, or between it and
    // another write: stamping the key at the end refuses every such read's fill.
    this.touch(key);
    this.end(ticket);
  }

  /**
   * Marks a pattern deletion (`matches`) or a `clear` (`undefined`) as in flight: no key it may delete is filled
   * until it ends. Returns its ticket.
   */
  beginGlobalWrite(matches: KeyMatcher): number {
    this.touchMatching(matches);
    const ticket = this.begin();
    this.#globalWrites.set(ticket, matches);
    if (matches === undefined) this.#clears++;
    return ticket;
  }

  /** Ends a global write; fills of the keys it may have deleted that started before its end are refused. */
  endGlobalWrite(ticket: number): void {
    const matches = this.#globalWrites.get(ticket);
    this.#globalWrites.delete(ticket);
    if (matches === undefined) this.#clears--;
    this.touchMatching(matches);
    this.end(ticket);
  }

  /** May a value of `key` read by the operation holding `ticket` be installed? */
  mayFill(key: string, ticket: number): boolean {
    const allowed =
      this.#epoch < ticket &&
      !this.#writing.has(key) &&
      (this.#stamps.get(key) ?? 0) < ticket &&
      this.#untouchedByPatterns(key, ticket);
    if (!allowed) this.rejections++;
    return allowed;
  }

  /** Whether `key` may have changed since `ticket` (the operation holding it is still in flight); counts nothing. */
  touchedSince(key: string, ticket: number): boolean {
    return !(
      this.#epoch < ticket &&
      (this.#stamps.get(key) ?? 0) < ticket &&
      this.#untouchedByPatterns(key, ticket)
    );
  }

  /**
   * May the value the write holding `ticket` just wrote be installed? The lower tier may apply overlapping writes
   * of one key in any order (several connections, Cluster nodes), so only if no other write of the key is in
   * flight and nothing touched the key since this one began (its own touch came right after its ticket; another
   * write's start or end, or an invalidation, would have touched it since).
   */
  mayFillOwnWrite(key: string, ticket: number): boolean {
    const allowed =
      this.#epoch < ticket &&
      this.#writing.get(key) === 1 &&
      (this.#stamps.get(key) ?? 0) === ticket + 1 &&
      this.#untouchedByPatterns(key, ticket);
    if (!allowed) this.rejections++;
    return allowed;
  }

  /** No pattern deletion or `clear` matching `key` is in flight, and none matching it touched it since `ticket`. */
  #untouchedByPatterns(key: string, ticket: number): boolean {
    if (this.#globalWrites.size > 0) {
      if (this.#clears > 0) return false;
      for (const matches of this.#globalWrites.values()) if (matches!(key)) return false;
    }
    const stamps = this.#patternStamps;
    for (let i = stamps.length - 1; i >= 0 && stamps[i]!.tick > ticket; i--) {
      if (stamps[i]!.matches(key)) return false;
    }
    return true;
  }
}
