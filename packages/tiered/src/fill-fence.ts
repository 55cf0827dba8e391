/**
 * Decides whether a value read from (or written to) a lower tier may be installed in the tiers above.
 *
 * Every operation takes a ticket from a logical clock when it starts. Invalidations stamp the key they touch
 * (or, for patterns, `clear` and bus resets, the whole cache: the epoch) with a later tick. A fill is allowed only
 * if nothing touched its key since its ticket and no local write of that key, or of everything, is still in
 * flight. So a value read before an invalidation can never be installed after it: the "stale refill" race.
 *
 * Stamps are kept only while an operation that could compare against them is in flight, so memory stays
 * proportional to the concurrency, not to the key space.
 */
export class FillFence {
  #clock = 0;
  #epoch = 0;
  /** key → tick of its last invalidation; insertion order is tick order (entries are moved on update). */
  readonly #stamps = new Map<string, number>();
  /** tickets of operations in flight, in ascending order. */
  readonly #inFlight = new Set<number>();
  /** key → local writes of it in flight. */
  readonly #writing = new Map<string, number>();
  #globalWrites = 0;
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
      return;
    }
    for (const [key, tick] of this.#stamps) {
      if (tick >= oldest.value) break;
      this.#stamps.delete(key);
    }
  }

  /** Records that `key` may have changed (an invalidation received, or a local write starting). */
  touch(key: string): number {
    const tick = ++this.#clock;
    this.#stamps.delete(key);
    this.#stamps.set(key, tick);
    return tick;
  }

  /** Records that any key may have changed (a pattern, a `clear`, a bus reset). */
  touchAll(): void {
    this.#epoch = ++this.#clock;
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

  /** Marks a pattern deletion or `clear` as in flight: no fill is allowed until it ends. */
  beginGlobalWrite(): number {
    this.#globalWrites++;
    this.touchAll();
    return this.begin();
  }

  /** Ends a global write; fills that started before its end are refused. */
  endGlobalWrite(ticket: number): void {
    this.#globalWrites--;
    this.touchAll();
    this.end(ticket);
  }

  /** May a value of `key` read by the operation holding `ticket` be installed? */
  mayFill(key: string, ticket: number): boolean {
    const allowed =
      this.#globalWrites === 0 &&
      this.#epoch < ticket &&
      !this.#writing.has(key) &&
      (this.#stamps.get(key) ?? 0) < ticket;
    if (!allowed) this.rejections++;
    return allowed;
  }

  /**
   * May the value the write holding `ticket` just wrote be installed? The lower tier may apply overlapping writes
   * of one key in any order (several connections, Cluster nodes), so only if no other write of the key is in
   * flight and nothing touched the key since this one began (its own touch came right after its ticket; another
   * write's start or end, or an invalidation, would have touched it since).
   */
  mayFillOwnWrite(key: string, ticket: number): boolean {
    const allowed =
      this.#globalWrites === 0 &&
      this.#epoch < ticket &&
      this.#writing.get(key) === 1 &&
      (this.#stamps.get(key) ?? 0) === ticket + 1;
    if (!allowed) this.rejections++;
    return allowed;
  }
}
