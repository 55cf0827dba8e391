import { randomUUID } from 'node:crypto';
import type { Entry, EntryWrite, EntryWriteMeta } from '@strata-cache/core';
import type { Coherence } from './coherence.js';
import type { TierSet } from './tier-set.js';

/** What trying to take a key's lease found. */
export type LeaseTaken =
  /** This instance holds the lease (its `token`); `replaced` is the entry the lease was taken over, if any. */
  | { readonly kind: 'held'; readonly token: string; readonly replaced: Entry | undefined }
  /** Another instance holds it until `until` (the store's clock). */
  | { readonly kind: 'busy'; readonly until: number }
  /** The key changed since it was read: read it again. */
  | { readonly kind: 'changed' };

/** A fresh version stamp: every value `getOrSet` writes, and every lease, carries one of its own. */
export function newVersion(): string {
  return randomUUID();
}

/**
 * Leases of the last tier, kept in the key's own entry (so they are atomic with the value, and Cluster-safe): taken
 * with a compare-and-set on the entry's version stamp; the loaded value is written with another (by the read-through,
 * through the write path), which lands only while the lease is still ours; any other write of the key in between
 * (`set`, `delete`, a pattern, `clear`) replaces the entry and so voids the lease. The leases of "Scaling Memcache at
 * Facebook" (NSDI 2013), in one key.
 */
export class Leases {
  readonly #set: TierSet;
  readonly #coherence: Coherence;

  constructor(set: TierSet, coherence: Coherence) {
    this.#set = set;
    this.#coherence = coherence;
  }

  /**
   * Tries to take `key`'s lease for `ttlMs`, over `current` (the last tier's entry as just read: a stale value, a
   * placeholder, a value due for refresh, or none). A value stays readable under the lease. `force`: a live lease of
   * another instance is taken over (voided) rather than waited for.
   */
  async take(key: string, current: Entry | undefined, ttlMs: number, force = false): Promise<LeaseTaken> {
    const store = this.#set.last.store;
    const now = store.now();
    const lease = current?.meta?.lease;
    if (!force && lease !== undefined && lease.until > now) return { kind: 'busy', until: lease.until };
    const expected = current === undefined ? null : current.meta?.version;
    // An entry without a version stamp was written plainly (`set`): never stale, so never leased.
    if (expected === undefined) return { kind: 'changed' };
    const token = newVersion();
    const held = current === undefined || current.meta?.placeholder === true;
    const write: EntryWrite = held
      ? { text: 'null', ttlMs, meta: { placeholder: true, version: token, lease: { token, ttlMs } } }
      : {
          text: current.text,
          ttlMs:
            current.expiresAt === undefined ? undefined : Math.max(1, Math.floor(current.expiresAt - now)),
          meta: { ...relativeMeta(current, now), version: token, lease: { token, ttlMs } },
        };
    const taken = await this.#cas(key, expected, write, false);
    return taken ? { kind: 'held', token, replaced: held ? undefined : current } : { kind: 'changed' };
  }

  /**
   * Gives the lease `token` up: the stale value it was taken over comes back as it was (but for the lease), or the
   * placeholder goes; announced, so that instances waiting for the key wake and one of them takes the next lease.
   */
  async release(key: string, token: string, replaced: Entry | undefined): Promise<void> {
    const now = this.#set.last.store.now();
    const write: EntryWrite | null =
      replaced === undefined
        ? null
        : {
            text: replaced.text,
            ttlMs:
              replaced.expiresAt === undefined
                ? undefined
                : Math.max(1, Math.floor(replaced.expiresAt - now)),
            meta: { ...relativeMeta(replaced, now), version: newVersion() },
          };
    await this.#cas(key, token, write, true);
  }

  /** A compare-and-set on the last tier; `announce`: the change is published (by the store, if it announces). */
  async #cas(
    key: string,
    expected: string | null,
    write: EntryWrite | null,
    announce: boolean,
  ): Promise<boolean> {
    const set = this.#set;
    const last = set.last;
    const bus = announce ? this.#coherence.announcer : undefined;
    const wrote = await set.bounded(last, 'getOrSet', () =>
      last.store.compareAndSet(key, expected, write, bus === undefined ? undefined : { announce: bus }),
    );
    if (announce && wrote) {
      if (bus === undefined) void this.#coherence.publish({ kind: 'keys', keys: [key] });
      else this.#coherence.sent({ kind: 'keys', keys: [key] });
    }
    return wrote;
  }
}

/** An entry's metadata as written again, its times made relative to `now` (the store's clock); no lease. */
function relativeMeta(entry: Entry, now: number): EntryWriteMeta {
  const meta = entry.meta;
  if (meta === undefined) return {};
  return {
    ...(meta.freshUntil === undefined ? {} : { freshMs: meta.freshUntil - now }),
    ...(meta.writtenAt === undefined ? {} : { ageMs: now - meta.writtenAt }),
    ...(meta.tags === undefined ? {} : { tags: meta.tags }),
  };
}
