import { MAX_TAG_LENGTH } from './bus/bus.js';
import { CacheValidationError } from './errors.js';
import { ttlToMs } from './ttl.js';

/**
 * The options of a write: `set(key, value, ttlOrOptions)` and `setMany(items, ttlOrOptions)` take either a TTL in
 * seconds (a number, or `null`/`undefined` for none, as ever) or this object.
 */
export interface SetOptions {
  /** Seconds the value is fresh; `null`/`undefined`: no expiry. */
  readonly ttl?: number | null | undefined;
  /**
   * Seconds the value stays stored after its TTL, usable only as a fallback by read-through (`getOrSet` answers it
   * when its loader fails or is slow); `get`, `getMany`, `exists` and `ttl` never see it. Needs a TTL. @default 0
   */
  readonly grace?: number | undefined;
  /** Tags the value carries: `invalidateTags` of any of them makes it unreadable, on every instance. */
  readonly tags?: readonly string[] | undefined;
}

/** {@link SetOptions} checked and in milliseconds. */
export interface ResolvedSetOptions {
  /** How long the value is fresh, in ms; `undefined`: no expiry. */
  readonly ttlMs: number | undefined;
  /** How long it stays stored after that, in ms (0: none). */
  readonly graceMs: number;
  /** Its tags, each once, in the order given (empty: none). */
  readonly tags: readonly string[];
}

const NO_TAGS: readonly string[] = Object.freeze([]);

/**
 * Checks a write's `ttlOrOptions`: a TTL in seconds, or {@link SetOptions}.
 * @throws {CacheValidationError} naming the option, for a bad TTL, grace or tag list, or an unknown option.
 */
export function resolveSetOptions(ttlOrOptions: unknown): ResolvedSetOptions {
  if (ttlOrOptions === undefined || ttlOrOptions === null || typeof ttlOrOptions === 'number')
    return { ttlMs: ttlToMs(ttlOrOptions), graceMs: 0, tags: NO_TAGS };
  if (typeof ttlOrOptions !== 'object' || Array.isArray(ttlOrOptions))
    throw new CacheValidationError(
      'ttl',
      `expected a number of seconds or { ttl, grace, tags }, got ${typeof ttlOrOptions}`,
      'CACHE_INVALID_TTL',
    );
  let ttlMs: number | undefined;
  let graceMs = 0;
  let tags = NO_TAGS;
  for (const name of Object.keys(ttlOrOptions)) {
    const value = (ttlOrOptions as Record<string, unknown>)[name];
    switch (name) {
      case 'ttl':
        ttlMs = ttlToMs(value);
        break;
      case 'grace':
        if (value === undefined) break;
        if (typeof value !== 'number' || !(value >= 0) || !Number.isFinite(value))
          throw new CacheValidationError(
            'grace',
            `expected a finite number of seconds ≥ 0, got ${String(value)}`,
          );
        graceMs = Math.ceil(value * 1000);
        break;
      case 'tags':
        if (value === undefined) break;
        tags = checkedTags(value, 'tags');
        break;
      default:
        throw new CacheValidationError(
          'options',
          `unknown write option '${name}' (expected ttl, grace or tags)`,
        );
    }
  }
  if (graceMs > 0 && ttlMs === undefined)
    throw new CacheValidationError('grace', 'needs a ttl: a value without expiry is never stale');
  if (ttlMs !== undefined && ttlMs + graceMs > Number.MAX_SAFE_INTEGER)
    throw new CacheValidationError('grace', 'ttl plus grace is more than 2^53 - 1 milliseconds');
  return { ttlMs, graceMs, tags };
}

/** Whether a write with `options` stores no metadata (no tags, no grace): a plain entry, written as before. */
export function plainWrite(options: ResolvedSetOptions): boolean {
  return options.tags.length === 0 && options.graceMs === 0;
}

/**
 * Checks a list of tags (an array of non-empty, well-formed strings of at most 1,024 characters) and returns it
 * without repeats.
 * @throws {CacheValidationError} naming `argument` (or the bad element) otherwise.
 */
export function checkedTags(tags: unknown, argument = 'tags'): readonly string[] {
  if (!Array.isArray(tags)) throw new CacheValidationError(argument, 'expected an array of tags');
  for (let i = 0; i < tags.length; i++) {
    const tag: unknown = tags[i];
    if (typeof tag !== 'string' || tag === '' || !tag.isWellFormed())
      throw new CacheValidationError(`${argument}[${i}]`, 'expected a non-empty, well-formed string');
    if (tag.length > MAX_TAG_LENGTH)
      throw new CacheValidationError(`${argument}[${i}]`, `longer than ${MAX_TAG_LENGTH} characters`);
  }
  return tags.length < 2 ? (tags as string[]) : [...new Set(tags as string[])];
}

/** The versions of `tags`, as an entry carries them. */
export function tagVersionsOf(tags: readonly string[], versions: readonly number[]): Record<string, number> {
  return Object.fromEntries(tags.map((tag, i) => [tag, versions[i]!]));
}

/**
 * Whether an entry written with the tag versions `written` is still valid, given each tag's current version
 * (`current(tag)`): every tag's version is what it was when the entry was written, or newer (a writer may know of a
 * bump the reader has not heard yet). A tag bumped since makes it invalid.
 */
export function tagsCurrent(
  written: Readonly<Record<string, number>>,
  current: (tag: string) => number,
): boolean {
  for (const tag in written) if (Object.hasOwn(written, tag) && written[tag]! < current(tag)) return false;
  return true;
}
