import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  assertKey,
  assertKeys,
  assertPattern,
  type CacheCapabilities,
  type CacheItems,
  type ClosableCache,
  type Codec,
  closedError,
  compileGlob,
  defaultCodec,
  msToTtlSeconds,
  resolveNamespace,
  SerializationError,
  toItemEntries,
  toUnavailableError,
  ttlToMs,
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
  /** The clock, in epoch milliseconds; the law suite injects its own. @default Date.now */
  now?: () => number;
}

const DEFAULTS = { namespace: undefined, codec: defaultCodec, now: Date.now } as const;
const OPTION_NAMES: ReadonlySet<string> = new Set(['directory', ...Object.keys(DEFAULTS)]);
// #endregion options

/** What one file holds: the key itself (file names are hashes), the encoded value, and when it expires. */
interface StoredEntry {
  readonly key: string;
  readonly text: string;
  /** Epoch ms; alive while `now <= expiresAt`, as Redis decides; `null`: no expiry. */
  readonly expiresAt: number | null;
}

// #region class
/**
 * A {@link ClosableCache} that keeps each entry in a file of its own: a cache that survives restarts, for CLI tools
 * and build steps. It is the walkthrough of docs/custom-adapter.md: every method validates with the core helpers,
 * talks to its backend (here `node:fs`), and wraps backend failures with `toUnavailableError`.
 */
export class FileCacheAdapter implements ClosableCache {
  /** What this adapter supports; the law suite reads it. */
  readonly capabilities: CacheCapabilities = { patternDelete: true, ttlPrecision: 'milliseconds' };
  readonly namespace: string;
  readonly #dir: string;
  readonly #codec: Codec;
  readonly #now: () => number;
  #closed = false;

  /** @throws {TypeError} for a missing directory or an unknown option; {RangeError} for a bad namespace. */
  constructor(options: FileCacheAdapterOptions) {
    for (const name of Object.keys(options ?? {})) {
      if (!OPTION_NAMES.has(name)) throw new TypeError(`Unknown FileCacheAdapter option '${name}'`);
    }
    const merged = { ...DEFAULTS, ...options };
    if (typeof merged.directory !== 'string' || merged.directory === '') {
      throw new TypeError('FileCacheAdapter needs a directory');
    }
    if (typeof merged.now !== 'function') throw new TypeError('now must return epoch milliseconds');
    this.namespace = resolveNamespace(merged.namespace);
    // Namespaces may hold any character but `:`: hex keeps the folder name portable.
    this.#dir = join(merged.directory, Buffer.from(this.namespace).toString('hex'));
    this.#codec = merged.codec;
    this.#now = merged.now;
  }
  // #endregion class

  // #region reads
  async get<T = unknown>(key: string): Promise<T | undefined> {
    assertKey(key);
    this.#open('get');
    const entry = await this.#read('get', key);
    return entry === undefined ? undefined : (this.#codec.decode(entry.text) as T);
  }

  async exists(key: string): Promise<boolean> {
    assertKey(key);
    this.#open('exists');
    return (await this.#read('exists', key)) !== undefined;
  }

  async getMany<T = unknown>(keys: readonly string[]): Promise<Map<string, T>> {
    assertKeys(keys);
    this.#open('getMany');
    const found = new Map<string, T>();
    for (const key of keys) {
      if (found.has(key)) continue;
      const entry = await this.#read('getMany', key);
      if (entry !== undefined) found.set(key, this.#codec.decode(entry.text) as T);
    }
    return found;
  }

  async ttl(key: string): Promise<number | undefined> {
    assertKey(key);
    this.#open('ttl');
    const entry = await this.#read('ttl', key);
    if (entry === undefined || entry.expiresAt === null) return undefined;
    return msToTtlSeconds(entry.expiresAt - this.#now());
  }
  // #endregion reads

  // #region writes
  async set(key: string, value: unknown, ttl?: number | null): Promise<void> {
    assertKey(key);
    const ttlMs = ttlToMs(ttl);
    this.#open('set');
    // Encode before touching the disk: a value the codec refuses must leave the old one in place.
    await this.#write('set', key, this.#codec.encode(value), ttlMs);
  }

  async setMany(items: CacheItems, ttl?: number | null): Promise<void> {
    const entries = toItemEntries(items);
    const ttlMs = ttlToMs(ttl);
    this.#open('setMany');
    const encoded = entries.map(([key, value]) => [key, this.#codec.encode(value)] as const);
    for (const [key, text] of encoded) await this.#write('setMany', key, text, ttlMs);
  }

  async delete(key: string): Promise<void> {
    assertKey(key);
    this.#open('delete');
    await this.#unlink('delete', this.#file(key));
  }

  async deletePattern(pattern: string): Promise<number> {
    assertPattern(pattern);
    this.#open('deletePattern');
    // Redis glob semantics come from core: never write your own matcher.
    const matches = compileGlob(pattern);
    let deleted = 0;
    for (const name of await this.#list('deletePattern')) {
      const entry = await this.#readFile('deletePattern', join(this.#dir, name));
      if (entry !== undefined && this.#live(entry) && matches(entry.key)) {
        if (await this.#unlink('deletePattern', join(this.#dir, name))) deleted++;
      }
    }
    return deleted;
  }

  async clear(): Promise<void> {
    this.#open('clear');
    try {
      await rm(this.#dir, { recursive: true, force: true });
    } catch (error) {
      throw toUnavailableError('clear', error);
    }
  }
  // #endregion writes

  // #region lifecycle
  /** Later calls reject with `CacheUnavailableError`; the files stay for the next process. */
  async close(): Promise<void> {
    this.#closed = true;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #open(operation: string): void {
    if (this.#closed) throw closedError(operation);
  }
  // #endregion lifecycle

  #file(key: string): string {
    return join(this.#dir, `${createHash('sha256').update(key).digest('hex')}.json`);
  }

  #live(entry: StoredEntry): boolean {
    return entry.expiresAt === null || this.#now() <= entry.expiresAt;
  }

  /** The live entry of `key`, or `undefined`; an expired file is removed on the way. */
  async #read(operation: string, key: string): Promise<StoredEntry | undefined> {
    const file = this.#file(key);
    const entry = await this.#readFile(operation, file);
    if (entry === undefined || entry.key !== key) return undefined;
    if (this.#live(entry)) return entry;
    await this.#unlink(operation, file);
    return undefined;
  }

  async #readFile(operation: string, file: string): Promise<StoredEntry | undefined> {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw toUnavailableError(operation, error);
    }
    try {
      return JSON.parse(text) as StoredEntry;
    } catch (cause) {
      throw new SerializationError('$', `unreadable cache file ${file}`, { cause });
    }
  }

  async #write(operation: string, key: string, text: string, ttlMs: number | undefined): Promise<void> {
    const entry: StoredEntry = { key, text, expiresAt: ttlMs === undefined ? null : this.#now() + ttlMs };
    const file = this.#file(key);
    // Write a temporary file, then rename: a reader sees the old entry or the new one, never half of one.
    const temporary = `${file}.${randomBytes(6).toString('hex')}.tmp`;
    try {
      await mkdir(this.#dir, { recursive: true });
      await writeFile(temporary, JSON.stringify(entry));
      await rename(temporary, file);
    } catch (error) {
      await rm(temporary, { force: true });
      throw toUnavailableError(operation, error);
    }
  }

  /** Removes `file`; true when it existed. */
  async #unlink(operation: string, file: string): Promise<boolean> {
    try {
      await unlink(file);
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw toUnavailableError(operation, error);
    }
  }

  async #list(operation: string): Promise<string[]> {
    try {
      return (await readdir(this.#dir)).filter((name) => name.endsWith('.json'));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw toUnavailableError(operation, error);
    }
  }
}
