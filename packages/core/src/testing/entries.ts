import type { StoreCache } from '../store-cache.js';

/** An entry as a tier above reads it from a cache's store: the value, its remaining TTL in ms, and its text. */
export interface ReadEntry<T = unknown> {
  /** The value, decoded (a fresh copy). */
  readonly value: T;
  /** Remaining life in whole ms (at least 0), in the store's clock; `undefined`: no expiry. */
  readonly ttlMs: number | undefined;
  /** The value as the cache's codec encoded it. */
  readonly text: string;
}

/** What `cache`'s store holds under `key`, as a tier above reads it; `undefined` when nothing live is there. */
export async function readEntry<T = unknown>(
  cache: StoreCache,
  key: string,
): Promise<ReadEntry<T> | undefined> {
  const found = cache.store.get(key);
  const entry = found instanceof Promise ? await found : found;
  if (entry === undefined) return undefined;
  const { expiresAt } = entry;
  return {
    value: cache.values.read(key, entry) as T,
    ttlMs: expiresAt === undefined ? undefined : Math.max(0, Math.floor(expiresAt - cache.store.now())),
    text: entry.text,
  };
}

/** {@link readEntry} of each of `keys`: the present ones, in request order, each once. */
export async function readEntries<T = unknown>(
  cache: StoreCache,
  keys: readonly string[],
): Promise<Map<string, ReadEntry<T>>> {
  const found = new Map<string, ReadEntry<T>>();
  for (const key of new Set(keys)) {
    const entry = await readEntry<T>(cache, key);
    if (entry !== undefined) found.set(key, entry);
  }
  return found;
}
