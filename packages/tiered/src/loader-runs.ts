import {
  CacheLoaderTimeoutError,
  checkedTags,
  type EntryWrite,
  encodeFor,
  tagVersionsOf,
  ttlToMs,
} from '@strata-cache/core';
import { closedError } from '@strata-cache/core/internal';
import { type Answer, type Flight, NO_VALUE, runLoader } from './flight.js';
import type { Loader, LoaderContext, ResolvedGetOrSet } from './get-or-set-options.js';
import { newVersion } from './lease.js';
import type { Claim, LeaseClaims, StaleCopy } from './lease-claims.js';
import type { TierSet } from './tier-set.js';
import type { WritePath } from './write-path.js';

/** The tags a load began with, and their versions then. */
interface TagsBefore {
  readonly tags: readonly string[];
  readonly versions: readonly number[];
}

/** How many keys may sit in the loader backoff before expired ones are swept. */
const BACKOFF_SWEEP_AT = 10_000;

/**
 * The loading half of `getOrSet`: calls a run's loader (with its hard timeout and abort signal), writes what it
 * returns as the run's claim allows, and answers the run's callers; a failure answers a stale value at hand and backs
 * the loader off for that key.
 */
export class LoaderRuns {
  readonly #set: TierSet;
  readonly #writes: WritePath;
  readonly #claims: LeaseClaims;
  /** Keys whose loader failed while a stale value answered: when it may be called again (`performance.now()`). */
  readonly #backoff = new Map<string, number>();
  /** Loader runs in progress: aborted when the cache closes. */
  readonly #loading = new Set<AbortController>();

  constructor(set: TierSet, writes: WritePath, claims: LeaseClaims) {
    this.#set = set;
    this.#writes = writes;
    this.#claims = claims;
  }

  /** Aborts every loader in progress (`ctx.signal`): the cache is closing. */
  close(): void {
    for (const controller of this.#loading) controller.abort(closedError('getOrSet'));
    this.#loading.clear();
  }

  /**
   * Calls the loader and writes what it returns as the claim allows (over the run's lease: only if the key did not
   * change meanwhile), then answers the callers. A failure answers a stale value if one is at hand (and backs the
   * loader off), else reaches every caller as the same error.
   */
  async load<T>(
    key: string,
    loader: Loader<T>,
    options: ResolvedGetOrSet,
    flight: Flight,
    claim: Claim,
    stale: StaleCopy | undefined,
    ticket: number,
    background: boolean,
  ): Promise<void> {
    const set = this.#set;
    const observer = set.observer;
    const controller = new AbortController();
    this.#loading.add(controller);
    const ctx: LoaderContext<T> = {
      key,
      signal: controller.signal,
      stale: stale === undefined ? undefined : { value: stale.value as T, expiredMs: stale.expiredMs },
      ttl: options.ttl,
      tags: options.tags,
    };
    observer.counts.loads++;
    // The tags' versions as the load starts: if one is invalidated meanwhile, what it loaded is not cached (rule 4).
    const before = await this.#tagsBefore(options.tags, claim);
    const started = performance.now();
    let value: T;
    try {
      value = await runLoader(loader, ctx, controller, options.hardMs);
    } catch (error) {
      observer.counts.loadFailures++;
      await this.#claims.release(key, claim);
      observer.load({
        key,
        durationMs: performance.now() - started,
        cached: false,
        error: asError(error),
        background: background || flight.settled,
      });
      await this.#failed(key, flight, error, stale, claim, options);
      return;
    } finally {
      this.#loading.delete(controller);
    }
    const durationMs = (): number => performance.now() - started;
    // Answered already (a stale value after the soft timeout): the rest of the run is the background's.
    background ||= flight.settled;
    if (value === undefined) {
      await this.#claims.release(key, claim);
      observer.load({ key, durationMs: durationMs(), cached: false, background });
      flight.settle(NO_VALUE);
      return;
    }
    let text: string;
    let ttlMs: number | undefined;
    let tags: readonly string[];
    try {
      ttlMs = ttlToMs(ctx.ttl);
      tags = checkedTags(ctx.tags, 'ctx.tags');
      text = encodeFor(set.last.codec, key, value);
    } catch (error) {
      await this.#claims.release(key, claim);
      observer.load({ key, durationMs: durationMs(), cached: false, error: asError(error), background });
      flight.fail(error);
      return;
    }
    this.#backoff.delete(key);
    const tagged = await this.#tagsAfter(tags, before, claim);
    let cached = false;
    if (tagged === undefined) await this.#claims.release(key, claim);
    else
      cached = await this.#store(
        key,
        claim,
        text,
        value,
        ttlMs,
        tagged === 'none' ? undefined : tagged,
        options,
        ticket,
      );
    observer.load({ key, durationMs: durationMs(), cached, background });
    flight.settle(this.#answer(text));
  }

  /**
   * Writes the loaded value as `claim` allows: over the run's lease (a compare-and-set that lands only while the
   * lease is still ours), or, on a last tier without leases, only if this instance saw no change of the key since
   * the run began. Resolves to whether it was cached; a failure is an `error` event.
   */
  async #store(
    key: string,
    claim: Claim,
    text: string,
    value: unknown,
    ttlMs: number | undefined,
    tags: Readonly<Record<string, number>> | undefined,
    options: ResolvedGetOrSet,
    ticket: number,
  ): Promise<boolean> {
    if (claim.kind === 'none' || claim.kind === 'answered') return false;
    const set = this.#set;
    const last = set.last;
    const write: EntryWrite = {
      text,
      ttlMs: ttlMs === undefined ? undefined : ttlMs + options.graceMs,
      meta: {
        version: newVersion(),
        ageMs: 0,
        ...(ttlMs === undefined ? {} : { freshMs: ttlMs }),
        ...(tags === undefined ? {} : { tags }),
      },
    };
    try {
      if (claim.kind === 'lease')
        return await this.#writes.entry(key, write, value, (announce) =>
          last.store.compareAndSet(key, claim.token, write, { announce }),
        );
      if (!set.fence.mayFill(key, ticket)) return false;
      return await this.#writes.entry(key, write, value, async (announce) => {
        await last.store.set(key, write, { announce });
        return true;
      });
    } catch {
      // Reported by the write path as an `error` event; the callers still get the value.
      return false;
    }
  }

  /**
   * The versions of `tags` before the loader runs, when what it loads may be written; `undefined` when there are none,
   * or when they cannot be learnt (the last tier does not answer: then nothing would be written anyway).
   */
  async #tagsBefore(tags: readonly string[], claim: Claim): Promise<TagsBefore | undefined> {
    if (tags.length === 0 || claim.kind === 'none' || claim.kind === 'answered') return undefined;
    try {
      return { tags, versions: await this.#set.tags.versions(tags) };
    } catch {
      return undefined;
    }
  }

  /**
   * The versions the loaded value is written with, for the tags it ended with (`tags`, after the loader): those
   * known before it ran for the tags given then, the current ones for tags the loader added. `undefined`: one of
   * them was invalidated while it ran, or their versions cannot be learnt: nothing is cached. `'none'`: no tags, or
   * nothing is written anyway.
   */
  async #tagsAfter(
    tags: readonly string[],
    before: TagsBefore | undefined,
    claim: Claim,
  ): Promise<Readonly<Record<string, number>> | 'none' | undefined> {
    if (tags.length === 0 || claim.kind === 'none' || claim.kind === 'answered') return 'none';
    const book = this.#set.tags;
    try {
      const added = tags.filter((tag) => before === undefined || !before.tags.includes(tag));
      const fetched = added.length === 0 ? [] : await book.versions(added);
      const versions = tags.map((tag) => {
        const i = before?.tags.indexOf(tag) ?? -1;
        return i >= 0 ? before!.versions[i]! : fetched[added.indexOf(tag)]!;
      });
      return book.passed(tags, versions) ? undefined : tagVersionsOf(tags, versions);
    } catch {
      return undefined;
    }
  }

  /**
   * The answer of a loaded value's `text` (the last tier's codec): read through the top tier's reader when it shares
   * that codec, so that many callers of one run copy one decoded value rather than each parse the text.
   */
  #answer(text: string): Answer {
    const { top, last } = this.#set;
    const values = top.codec === last.codec ? top.values : last.values;
    return { kind: 'value', entry: { text, expiresAt: undefined, meta: undefined }, values };
  }

  /** The loader failed: a stale value answers (and the loader backs off), else every caller gets `error`. */
  async #failed(
    key: string,
    flight: Flight,
    error: unknown,
    stale: StaleCopy | undefined,
    claim: Claim,
    options: ResolvedGetOrSet,
  ): Promise<void> {
    if (stale !== undefined) {
      this.#backOff(key, options.backoffMs);
      this.answerStale(
        flight,
        key,
        stale,
        error instanceof CacheLoaderTimeoutError ? 'timeout' : 'loader-error',
      );
      return;
    }
    const failSafe = this.#set.failSafe;
    if (claim.kind === 'none' && claim.lowerDown && failSafe.enabled && !flight.settled) {
      const fallback = await failSafe.fallback(key);
      if (fallback !== undefined) {
        flight.settle(this.#answer(encodeFor(this.#set.last.codec, key, fallback.value)));
        return;
      }
    }
    flight.fail(error);
  }

  /** Answers the callers of `flight` (unless already answered) with a stale value, for `reason`. */
  answerStale(
    flight: Flight,
    key: string,
    stale: StaleCopy,
    reason: 'loader-error' | 'timeout' | 'backoff',
  ): void {
    if (flight.settled) return;
    this.#set.observer.stale(key, reason, stale.expiredMs);
    flight.settle({ kind: 'value', entry: stale.entry, values: stale.values });
  }

  /** Whether the loader for `key` is backed off after a failure (a stale value answers meanwhile). */
  backedOff(key: string): boolean {
    const until = this.#backoff.get(key);
    if (until === undefined) return false;
    if (performance.now() < until) return true;
    this.#backoff.delete(key);
    return false;
  }

  #backOff(key: string, ms: number): void {
    if (ms <= 0) return;
    const now = performance.now();
    if (this.#backoff.size >= BACKOFF_SWEEP_AT)
      for (const [k, until] of this.#backoff) if (until <= now) this.#backoff.delete(k);
    this.#backoff.set(key, now + ms);
  }
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}
