import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  type CacheStore,
  CacheUnavailableError,
  type Codec,
  compileGlob,
  type Entry,
  type EntryMeta,
  type EntryWrite,
  resolveNamespace,
  SerializationError,
  StoreCache,
  stampMeta,
} from '@strata-cache/core';

// #region options
/** Options of {@link FileCacheAdapter}. */
export interface FileCacheAdapterOptions {
  /** The directory that holds the cache (one sub-directory per namespace); created when missing. */
  directory: string;
  /** The namespace: a non-empty string without `:`. @default 'strata' */
  namespace?: string;
  /** How values are encoded. @default defaultCodec */
  codec?: Codec;
  /** The clock, in epoch milliseconds; the law suites inject their own. @default Date.now */
  now?: () => number;
}

const OPTION_NAMES: ReadonlySet<string> = new Set(['directory', 'namespace', 'codec', 'now']);
// #endregion options

/** What one file holds: the key itself (file names are hashes) and the entry. */
interface StoredFile {
  readonly key: string;
  readonly text: string;
  /** Epoch ms; alive while `now <= expiresAt`, as Redis decides; `null`: no expiry. */
  readonly expiresAt: number | null;
  readonly meta?: EntryMeta;
}

// #region store
/**
 * A {@link CacheStore} that keeps each entry in a file of its own: a cache that survives restarts, for CLI tools and
 * build steps. A store only moves entries in and out; `StoreCache` (below) adds validation, the codec and TTLs.
 */
export class FileStore implements CacheStore {
  /** No bound of its own: a tiered cache over it bounds its calls. */
  readonly callBoundMs: undefined = undefined;
  readonly #dir: string;
  readonly #now: () => number;
  /** Per key, the last compare-and-set in progress: the next one waits for it. */
  readonly #swaps = new Map<string, Promise<unknown>>();

  constructor(directory: string, namespace: string, now: () => number) {
    // Namespaces may hold any character but `:`: hex keeps the folder name portable.
    this.#dir = join(directory, Buffer.from(namespace).toString('hex'));
    this.#now = now;
  }

  now(): number {
    return this.#now();
  }

  async get(key: string): Promise<Entry | undefined> {
    const stored = await this.#read(this.#file(key));
    if (stored === undefined || stored.key !== key || !this.#live(stored)) return undefined;
    return { text: stored.text, expiresAt: stored.expiresAt ?? undefined, meta: stored.meta };
  }

  async getMany(keys: readonly string[]): Promise<Array<Entry | undefined>> {
    return Promise.all(keys.map((key) => this.get(key)));
  }

  async set(key: string, entry: EntryWrite): Promise<void> {
    const now = this.#now();
    const stored: StoredFile = {
      key,
      text: entry.text,
      expiresAt: entry.ttlMs === undefined ? null : now + entry.ttlMs,
      ...(entry.meta === undefined ? {} : { meta: stampMeta(entry.meta, now) }),
    };
    const file = this.#file(key);
    // Write a temporary file, then rename: a reader sees the old entry or the new one, never half of one.
    const temporary = `${file}.${randomBytes(6).toString('hex')}.tmp`;
    try {
      await mkdir(this.#dir, { recursive: true });
      await writeFile(temporary, JSON.stringify(stored));
      await rename(temporary, file);
    } catch (error) {
      await rm(temporary, { force: true });
      throw unavailable('set', error);
    }
  }

  async setMany(entries: ReadonlyArray<readonly [string, EntryWrite]>): Promise<void> {
    for (const [key, entry] of entries) await this.set(key, entry);
  }

  /**
   * Atomic among this process's compare-and-sets of a key (each waits for the one before); not across processes
   * (a file system has no compare-and-set): one process at a time.
   */
  compareAndSet(key: string, expected: string | null, entry: EntryWrite | null): Promise<boolean> {
    const swap = async (): Promise<boolean> => {
      const live = await this.get(key);
      if (expected === null ? live !== undefined : live?.meta?.version !== expected) return false;
      if (entry === null) await this.delete([key]);
      else await this.set(key, entry);
      return true;
    };
    return this.#serialized(key, swap);
  }

  /** Runs `step` once the previous step for `id` settled. */
  #serialized<T>(id: string, step: () => Promise<T>): Promise<T> {
    const done = (this.#swaps.get(id) ?? Promise.resolve()).then(step, step);
    this.#swaps.set(id, done);
    void done
      .catch(() => {})
      .then(() => {
        if (this.#swaps.get(id) === done) this.#swaps.delete(id);
      });
    return done;
  }

  /** Tags' versions live in a folder beside the namespace's, so that `clear` keeps them (they must never go back). */
  async tagVersions(tags: readonly string[]): Promise<number[]> {
    return Promise.all(tags.map((tag) => this.#tagVersion(tag)));
  }

  /** Atomic among this process's calls for a tag, as `compareAndSet` is. */
  bumpTags(tags: readonly string[]): Promise<number[]> {
    return Promise.all(
      tags.map((tag) =>
        this.#serialized(`tag\0${tag}`, async () => {
          const version = (await this.#tagVersion(tag)) + 1;
          const file = this.#tagFile(tag);
          const temporary = `${file}.${randomBytes(6).toString('hex')}.tmp`;
          try {
            await mkdir(`${this.#dir}.tags`, { recursive: true });
            await writeFile(temporary, String(version));
            await rename(temporary, file);
          } catch (error) {
            await rm(temporary, { force: true });
            throw unavailable('bumpTags', error);
          }
          return version;
        }),
      ),
    );
  }

  async delete(keys: readonly string[]): Promise<number> {
    let deleted = 0;
    for (const key of keys) {
      const live = (await this.get(key)) !== undefined;
      try {
        await unlink(this.#file(key));
        if (live) deleted++;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw unavailable('delete', error);
      }
    }
    return deleted;
  }

  /** Removes this namespace's folder, and nothing else. */
  async clear(): Promise<void> {
    try {
      await rm(this.#dir, { recursive: true, force: true });
    } catch (error) {
      throw unavailable('clear', error);
    }
  }

  /** Redis glob semantics come from core (`compileGlob`): never write your own matcher. */
  async *scan(pattern: string): AsyncGenerator<readonly string[]> {
    const matches = compileGlob(pattern);
    let names: string[];
    try {
      names = (await readdir(this.#dir)).filter((name) => name.endsWith('.json'));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw unavailable('scan', error);
    }
    const found: string[] = [];
    for (const name of names) {
      const stored = await this.#read(join(this.#dir, name));
      if (stored !== undefined && this.#live(stored) && matches(stored.key)) found.push(stored.key);
    }
    if (found.length > 0) yield found;
  }

  /** Files cannot announce writes: a tiered cache over this store publishes them itself. */
  announcesOn(): boolean {
    return false;
  }

  /** Nothing to release: the files stay for the next process. */
  async close(): Promise<void> {}

  #file(key: string): string {
    return join(this.#dir, `${createHash('sha256').update(key).digest('hex')}.json`);
  }

  #tagFile(tag: string): string {
    return join(`${this.#dir}.tags`, createHash('sha256').update(tag).digest('hex'));
  }

  async #tagVersion(tag: string): Promise<number> {
    try {
      return Number(await readFile(this.#tagFile(tag), 'utf8'));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 0;
      throw unavailable('tagVersions', error);
    }
  }

  #live(stored: StoredFile): boolean {
    return stored.expiresAt === null || this.#now() <= stored.expiresAt;
  }

  async #read(file: string): Promise<StoredFile | undefined> {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw unavailable('get', error);
    }
    try {
      return JSON.parse(text) as StoredFile;
    } catch (cause) {
      throw new SerializationError('$', `unreadable cache file ${file}`, { operation: 'decode', cause });
    }
  }
}
// #endregion store

// #region adapter
/**
 * The adapter: the store plus `StoreCache`, which keeps every law of `CacheProtocol` (validation, the codec, TTLs,
 * batches, patterns) once for every backend.
 */
export class FileCacheAdapter extends StoreCache {
  readonly namespace: string;

  /** @throws {TypeError} for a missing directory or an unknown option; {RangeError} for a bad namespace. */
  constructor(options: FileCacheAdapterOptions) {
    for (const name of Object.keys(options ?? {})) {
      if (!OPTION_NAMES.has(name)) throw new TypeError(`Unknown FileCacheAdapter option '${name}'`);
    }
    if (typeof options.directory !== 'string' || options.directory === '')
      throw new TypeError('FileCacheAdapter needs a directory');
    const now = options.now ?? Date.now;
    if (typeof now !== 'function') throw new TypeError('now must return epoch milliseconds');
    const namespace = resolveNamespace(options.namespace);
    super(new FileStore(options.directory, namespace, now), { codec: options.codec });
    this.namespace = namespace;
  }
}
// #endregion adapter

/** A file-system failure, as every call reports one. */
function unavailable(operation: string, error: unknown): CacheUnavailableError {
  return new CacheUnavailableError(operation, error instanceof Error ? error.message : String(error), {
    cause: error,
  });
}
