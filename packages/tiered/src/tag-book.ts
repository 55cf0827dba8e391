import { type Entry, tagsCurrent } from '@strata-cache/core';
import type { TierSet } from './tier-set.js';

/** How many tags' versions an instance remembers; past that it forgets them all and asks the last tier again. */
const MAX_KNOWN_TAGS = 100_000;

/** What the book knows of a tag: a version the tag has reached (never more than its current one), and since when. */
interface Known {
  readonly version: number;
  /** The book's epoch when it was heard or read: trusted as current only within that epoch, while listening. */
  readonly epoch: number;
  /** The book's clock tick then: trusted for at most two ticks (the upper tiers' `maxTtl`), as their copies are. */
  readonly tick: number;
}

/** How long a version is trusted without news in a cache of one tier (no tier above has a `maxTtl`). */
const DEFAULT_TRUST_MS = 30_000;

/**
 * This instance's knowledge of tags' versions (the counters the last tier keeps, raised by `invalidateTags`): what
 * it read from the last tier and heard on the bus. A known version is always a lower bound of the tag's current one
 * (versions only grow), so an entry written with an older one is invalid, whatever happened since. It is taken as
 * the current version only while the bus is listening and no message may have been missed since it was learnt (a
 * reset starts a new epoch); otherwise the last tier is asked. So a tagged read needs no round trip of its own
 * once its tags are known, and an invalidation is heard as every other is.
 */
export class TagBook {
  readonly #set: TierSet;
  readonly #known = new Map<string, Known>();
  /**
   * How long a known version is taken as current without being heard or read again: the shortest `maxTtl` above
   * the last tier. So with messages lost unnoticed (or without a bus), a tag invalidated elsewhere is seen within
   * `maxTtl`, as a key is.
   */
  readonly #trustMs: number;
  #epoch = 0;
  /** Changes whenever anything known changes: an entry screened valid at one stamp is valid until the next. */
  #stamp = ++stamps;
  /** Advanced every half `#trustMs` (a timer started with the first tag learnt): no clock is read per check. */
  #tick = 0;
  #ticking: NodeJS.Timeout | undefined;

  constructor(set: TierSet) {
    this.#set = set;
    this.#trustMs =
      set.upper.length === 0 ? DEFAULT_TRUST_MS : Math.min(...set.upper.map((tier) => tier.maxTtlMs));
  }

  /** Messages may have been missed: no known version is taken as current any more (they stay lower bounds). */
  reset(): void {
    this.#epoch++;
    this.#stamp = ++stamps;
  }

  /** Stops the clock (the cache is closing). */
  stop(): void {
    clearInterval(this.#ticking);
    this.#ticking = undefined;
  }

  /** `tags` reached `versions` (heard on the bus, or raised here); `undefined`: they changed, to what is unknown. */
  heard(tags: readonly string[], versions: readonly number[] | undefined): void {
    for (const [i, tag] of tags.entries()) {
      const before = this.#known.get(tag);
      if (versions === undefined) {
        // Still a lower bound, no longer current.
        if (before !== undefined) this.#known.set(tag, { version: before.version, epoch: -1, tick: 0 });
        this.#stamp = ++stamps;
        continue;
      }
      this.#learn(tag, versions[i]!, this.#epoch, before);
    }
  }

  /**
   * `entry` as reads must see it: unchanged when it carries no tags or its tags are current; marked a placeholder
   * (holding no value: never fresh, never a stale fallback, replaceable by read-through) when one of its tags was
   * invalidated since it was written. Asks the last tier for the versions it cannot trust (the promise rejects if
   * that fails).
   */
  screen(entry: Entry): Entry | Promise<Entry> {
    // An entry kept as an object in process (an L1's) remembers when it was last found valid.
    const memo = entry as Screened;
    if (memo[SCREENED] === this.#stamp) return entry;
    const written = entry.meta?.tags;
    if (written === undefined) return entry;
    const known = this.#check(written);
    if (known === true) {
      // Remembered only for an entry nothing else can make unreadable (no fresh horizon, not a placeholder, not
      // unverified): `screenedValid` then answers for the whole entry.
      const meta = entry.meta!;
      if (meta.freshUntil === undefined && meta.placeholder !== true && meta.unverified !== true)
        memo[SCREENED] = this.#stamp;
      return entry;
    }
    if (known === false) return invalidated(entry);
    return this.#fetchAndCheck(written).then((valid) => (valid ? entry : invalidated(entry)));
  }

  /**
   * Whether `entry` (one with metadata) was screened valid since anything known changed, and can be read as it is
   * (it has no fresh horizon, and is neither a placeholder nor unverified): the L1 hit of a tagged key, one compare.
   */
  screenedValid(entry: Entry): boolean {
    return (entry as Screened)[SCREENED] === this.#stamp;
  }

  /** {@link TagBook.screen} for many entries: the versions of every tag among them asked at most once. */
  async screenAll(entries: ReadonlyArray<Entry | undefined>): Promise<Array<Entry | undefined>> {
    const tags = new Set<string>();
    for (const entry of entries) {
      const written = entry?.meta?.tags;
      if (written !== undefined) for (const tag of Object.keys(written)) tags.add(tag);
    }
    const names = [...tags];
    const versions = await this.versions(names);
    const current = new Map(names.map((tag, i) => [tag, versions[i]!]));
    return entries.map((entry) => {
      const written = entry?.meta?.tags;
      if (entry === undefined || written === undefined) return entry;
      return tagsCurrent(written, (tag) => current.get(tag)!) ? entry : invalidated(entry);
    });
  }

  /** Whether `entry`'s tags are known not to have been invalidated since it was written, for a fallback answer: an
   * unknown version does not refuse it (a fallback may have missed invalidations), a known newer one does. */
  fallbackAllowed(entry: Entry): boolean {
    const written = entry.meta?.tags;
    return written === undefined || tagsCurrent(written, (tag) => this.#known.get(tag)?.version ?? 0);
  }

  /** The current versions of `tags`, from what is known and trusted, else from the last tier. */
  async versions(tags: readonly string[]): Promise<number[]> {
    const trusted = this.#trusted();
    const versions: number[] = [];
    let missing = false;
    for (const tag of tags) {
      const known = this.#known.get(tag);
      if (known === undefined || !trusted || !this.#current(known)) {
        missing = true;
        break;
      }
      versions.push(known.version);
    }
    if (!missing) return versions;
    return this.#fetch(tags);
  }

  /** Whether any of `tags` is known to have passed the version given for it in `versions`. */
  passed(tags: readonly string[], versions: readonly number[]): boolean {
    for (const [i, tag] of tags.entries()) {
      const known = this.#known.get(tag);
      if (known !== undefined && known.version > versions[i]!) return true;
    }
    return false;
  }

  /** True / false when every tag's version is known and current; `undefined` when one must be asked for. */
  #check(written: Readonly<Record<string, number>>): boolean | undefined {
    const trusted = this.#trusted();
    let unknown = false;
    for (const tag in written) {
      if (!Object.hasOwn(written, tag)) continue;
      const known = this.#known.get(tag);
      if (known === undefined) {
        unknown = true;
        continue;
      }
      if (written[tag]! < known.version) return false;
      if (!trusted || !this.#current(known)) unknown = true;
    }
    return unknown ? undefined : true;
  }

  async #fetchAndCheck(written: Readonly<Record<string, number>>): Promise<boolean> {
    const tags = Object.keys(written);
    const versions = await this.#fetch(tags);
    return tagsCurrent(written, (tag) => versions[tags.indexOf(tag)]!);
  }

  /** Reads `tags`' versions from the last tier, and remembers them if nothing may have been missed meanwhile. */
  async #fetch(tags: readonly string[]): Promise<number[]> {
    const set = this.#set;
    const last = set.last;
    const epoch = this.#epoch;
    const trusted = this.#trusted();
    const versions = await set.bounded(last, 'tags', async () => last.store.tagVersions(tags));
    const current = trusted && this.#trusted() && epoch === this.#epoch;
    for (const [i, tag] of tags.entries())
      this.#learn(tag, versions[i]!, current ? epoch : -1, this.#known.get(tag));
    return versions;
  }

  #learn(tag: string, version: number, epoch: number, before: Known | undefined): void {
    if (this.#ticking === undefined) {
      this.#ticking = setInterval(
        () => {
          this.#tick++;
          this.#stamp = ++stamps;
        },
        Math.max(1, Math.floor(this.#trustMs / 2)),
      );
      this.#ticking.unref();
    }
    const tick = this.#tick;
    this.#stamp = ++stamps;
    if (before === undefined) {
      if (this.#known.size >= MAX_KNOWN_TAGS) this.#known.clear();
      this.#known.set(tag, { version, epoch, tick });
      return;
    }
    // Versions only grow: a lower one read late (its reply raced a bump heard meanwhile) changes nothing.
    if (version > before.version) this.#known.set(tag, { version, epoch, tick });
    else if (version === before.version && epoch === this.#epoch)
      this.#known.set(tag, { version, epoch, tick });
  }

  /** Whether `known` may be taken as the tag's current version: learnt in this epoch, at most `trustMs` ago. */
  #current(known: Known): boolean {
    return known.epoch === this.#epoch && known.tick >= this.#tick - 1;
  }

  /** Whether what the bus says can be relied on now (it is listening; without a bus, always). */
  #trusted(): boolean {
    return this.#set.upperOpen;
  }
}

/**
 * Stamps, unique across every book of the process: an entry of a store two caches share (an L2 in memory) may be
 * screened by both, and one's stamp must never pass for the other's.
 */
let stamps = 0;

/** Where an entry remembers the book's stamp when it was last screened valid. */
const SCREENED: unique symbol = Symbol('screened');
type Screened = Entry & { [SCREENED]?: number };

/** `entry` marked as holding no value: one of its tags was invalidated since it was written. */
function invalidated(entry: Entry): Entry {
  return { text: entry.text, expiresAt: entry.expiresAt, meta: { ...entry.meta, placeholder: true } };
}
