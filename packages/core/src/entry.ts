/**
 * What a store keeps under a key: the value as its codec encoded it, when it is gone, and the metadata read-through
 * and tags carry with it. Every time is in epoch milliseconds of the store's own clock (see `CacheStore.now`).
 */
export interface Entry {
  /** The value, as the cache's codec encoded it. */
  readonly text: string;
  /** When the entry is gone; `undefined`: never. */
  readonly expiresAt: number | undefined;
  /** What travels with the value besides its expiry; `undefined` for a plain entry. */
  readonly meta: EntryMeta | undefined;
  /**
   * Room for the decoded value, for a store that keeps its entries as objects in memory (it leaves this writable,
   * `undefined` at first): readers keep a decoded copy here so that later reads need not decode again. Another store
   * returns a fresh object per read and may leave it out.
   */
  decoded?: unknown;
}

/**
 * The metadata an entry may carry with its value (all optional): read-through's stale horizon, version stamp and
 * lease, and the tags it was written with.
 */
export interface EntryMeta {
  /**
   * When the value stops being fresh (epoch ms, the store's clock); from then until `expiresAt` it is stale, usable
   * only as a fallback. Absent: fresh until `expiresAt`.
   */
  readonly freshUntil?: number;
  /** When the value was written (epoch ms, the store's clock): how old it is, for refresh ahead. */
  readonly writtenAt?: number;
  /** A stamp unique to the write that made this entry: what a conditional write compares. */
  readonly version?: string;
  /** A lease held on the key: who holds it (a token) and until when (epoch ms, the store's clock). */
  readonly lease?: EntryLease;
  /** The tags the value was written with, each with the tag's version at that time. */
  readonly tags?: Readonly<Record<string, number>>;
  /** The entry holds no value, only a lease on the key (its `text` is `null`): it reads as absent. */
  readonly placeholder?: boolean;
  /**
   * A copy that may have missed an invalidation (a tiered cache's bus lost messages while it was held): never read
   * as fresh, only as a fail-safe fallback while the tier below is unavailable.
   */
  readonly unverified?: boolean;
}

/** A lease on a key: whoever holds `token` may fill it until `until`. */
export interface EntryLease {
  /** The holder's token. */
  readonly token: string;
  /** When the lease lapses (epoch ms, the store's clock). */
  readonly until: number;
}

/**
 * An entry to write. Its times are relative: the store counts them from when it applies the write, in its own clock,
 * so that no writer's clock decides when anything expires.
 */
export interface EntryWrite {
  /** The value, as the cache's codec encoded it. */
  readonly text: string;
  /** How long the entry lives, in whole milliseconds ≥ 1; `undefined`: no expiry. */
  readonly ttlMs: number | undefined;
  /** Metadata to store with it; `undefined` for a plain entry. */
  readonly meta?: EntryWriteMeta | undefined;
}

/** {@link EntryMeta} as written: its times relative to when the store applies the write. */
export interface EntryWriteMeta {
  /** How long the value is fresh, in ms (then stale until the entry expires). */
  readonly freshMs?: number;
  /** How old the value already is, in ms (0 for a value loaded just now): the store keeps when it was written. */
  readonly ageMs?: number;
  /** See {@link EntryMeta.version}. */
  readonly version?: string;
  /** A lease to hold on the key: its token, and for how many ms. */
  readonly lease?: {
    /** The holder's token. */
    readonly token: string;
    /** How long the lease holds, in ms. */
    readonly ttlMs: number;
  };
  /** See {@link EntryMeta.tags}. */
  readonly tags?: Readonly<Record<string, number>>;
  /** See {@link EntryMeta.placeholder}. */
  readonly placeholder?: boolean;
  /** See {@link EntryMeta.unverified}. */
  readonly unverified?: boolean;
}

/** `meta` as written, its times (relative to `now`, in the store's clock) made absolute. */
export function stampMeta(meta: EntryWriteMeta, now: number): EntryMeta {
  const { freshMs, ageMs, lease, ...rest } = meta;
  return {
    ...rest,
    ...(freshMs === undefined ? {} : { freshUntil: now + freshMs }),
    ...(ageMs === undefined ? {} : { writtenAt: now - ageMs }),
    ...(lease === undefined ? {} : { lease: { token: lease.token, until: now + lease.ttlMs } }),
  };
}
