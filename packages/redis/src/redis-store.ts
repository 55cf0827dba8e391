import {
  type CacheStore,
  deleteMatching,
  ENVELOPE_PREFIX,
  type Entry,
  type EntryWrite,
  escapeGlob,
  type InvalidationBus,
  META_ENVELOPE_PREFIX,
  type StoreWriteOptions,
  stampMeta,
  wrapEntry,
} from '@strata-cache/core';
import { closedError, monotonicNow } from '@strata-cache/core/internal';
import type { Cluster, Redis } from 'ioredis';
import { RedisBatchWriter } from './internal/batch-writer.js';
import { CallGuard } from './internal/call-guard.js';
import { type MasterBatch, masters, refreshSlots, withRedirects } from './internal/cluster-routing.js';
import { type ReadResult, RedisEntryReader } from './internal/entry-reader.js';
import { LuaScript } from './internal/lua-script.js';
import { RedisClock } from './internal/redis-clock.js';
import { RedisTagCounters } from './internal/tag-counters.js';
import { corkForTick } from './internal/tick-cork.js';
import { type Announcer, messagesOf, RedisWriteGatherer } from './internal/write-gatherer.js';

/** Settings of a {@link RedisStore}, as the adapter resolved them. */
export interface RedisStoreSettings {
  /** The ioredis client to use (the adapter decides who closes it). */
  readonly client: Redis | Cluster;
  /** Keys are stored as `<namespace>:<key>`. */
  readonly namespace: string;
  /** Every command is bounded by this many ms. */
  readonly commandTimeoutMs: number;
  /** The COUNT hint of each SCAN step. */
  readonly scanCount: number;
  /** Store entries without metadata as the codec's text alone (no envelope). */
  readonly plain: boolean;
}

/**
 * Writes an entry (or deletes the key) only if the key's live entry carries the version stamp ARGV[1] ('' : only if
 * there is no live entry). The version sits in the envelope's metadata, found by string operations on its head:
 * the value itself is never parsed. ARGV[2] is the text to store ('' with ARGV[4] = 'd': delete), ARGV[3] its TTL in
 * ms (empty: none); then pairs of a channel and a message, published whether it wrote or not (an invalidation of a
 * key that did not change costs a reader a refill, never coherence). Answers 1 if it wrote, 0 if not.
 */
const COMPARE_AND_SET = new LuaScript(`#!lua
local current = redis.call('GET', KEYS[1])
local version = ''
if current then
  version = nil
  local ml = string.match(current, '^{"%$s":2,"exp":[%dnul]+,"ml":(%d+),"m":')
  if ml then
    local start = string.find(current, ',"m":', 1, true) + 5
    local meta = cjson.decode(string.sub(current, start, start + tonumber(ml) - 1))
    if type(meta.ver) == 'string' then version = meta.ver end
  end
  if version == nil then version = false end
end
local wrote = 0
if version == ARGV[1] then
  if ARGV[4] == 'd' then
    redis.call('UNLINK', KEYS[1])
  elseif ARGV[3] == '' then
    redis.call('SET', KEYS[1], ARGV[2])
  else
    redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  end
  wrote = 1
end
for j = 5, #ARGV, 2 do
  redis.call('PUBLISH', ARGV[j], ARGV[j + 1])
end
return wrote`);

/**
 * The {@link CacheStore} on ioredis, for standalone Redis, Sentinel and Cluster alike. Entries are stored as
 * `<namespace>:<key>`, each as its codec's text inside an envelope carrying its absolute expiry in Redis's clock
 * (see `wrapEntry`), and read back in this process's monotonic clock, bounded so that no entry outlives its key.
 *
 * Reads and single-key writes issued within one tick go to Redis together (one command per master); `setMany` goes
 * in commands of at most 1,000 keys. Every command is bounded by `commandTimeoutMs`; a walk (`scan`) and a batch
 * are bounded per command, never as a whole. A bus built on the adapter announces its writes from the very command
 * that writes them.
 */
export class RedisStore implements CacheStore {
  /** The ioredis client in use. */
  readonly client: Redis | Cluster;
  readonly #prefix: string;
  readonly #scanPrefix: string;
  readonly #scanCount: number;
  readonly #plain: boolean;
  readonly #clock: RedisClock;
  readonly #guard: CallGuard;
  readonly #reader: RedisEntryReader;
  readonly #writes: RedisWriteGatherer;
  readonly #batches: RedisBatchWriter;
  readonly #tags: RedisTagCounters;
  /** The buses announcing this store's writes, with how each builds its messages. */
  readonly #announcers = new Map<InvalidationBus, Announcer>();
  #closed = false;

  constructor(settings: RedisStoreSettings) {
    const { client, namespace } = settings;
    this.client = client;
    this.#prefix = `${namespace}:`;
    // A namespace may hold glob metacharacters: escaped, SCAN MATCH sees it literally.
    this.#scanPrefix = `${escapeGlob(namespace)}:`;
    this.#scanCount = settings.scanCount;
    this.#plain = settings.plain;
    // Measured again at every (re)connect: the server may be another host than before (a failover).
    this.#clock = new RedisClock(client, settings.commandTimeoutMs);
    client.on('ready', () => this.#clock.connected());
    if (client.status === 'ready') this.#clock.connected();
    this.#guard = new CallGuard(client, settings.commandTimeoutMs, () => this.#clock.gate);
    this.#reader = new RedisEntryReader(client, this.#clock, settings.plain);
    this.#writes = new RedisWriteGatherer(client, this.#prefix);
    this.#tags = new RedisTagCounters(client, this.#guard, namespace);
    this.#batches = new RedisBatchWriter(
      client,
      this.#guard,
      (entry) => this.#stamped(entry),
      () => this.#closed,
    );
  }

  /** Every call but `setMany` and a walk as a whole settles within this many ms: `commandTimeoutMs` plus the sweep. */
  get callBoundMs(): number {
    return this.#guard.boundMs;
  }

  /** This process's monotonic clock, in which entries are read. */
  now(): number {
    return monotonicNow();
  }

  async get(key: string): Promise<Entry | undefined> {
    const full = this.#prefix + key;
    return entryOf(await this.#guard.run('get', () => this.#reader.readOne(full)));
  }

  async getMany(keys: readonly string[]): Promise<Array<Entry | undefined>> {
    const results = await this.#guard.run('getMany', () =>
      this.#reader.read(keys.map((k) => this.#prefix + k)),
    );
    return results.map(entryOf);
  }

  async set(key: string, entry: EntryWrite, options?: StoreWriteOptions): Promise<void> {
    const announcer = this.#announcerOf(options);
    const ttl = entry.ttlMs;
    // Stamped as the write is sent (after any wait for the connection): its expiry is then never later than the one
    // Redis gives the key.
    await this.#guard.run('set', () => this.#writes.set(key, this.#stamped(entry), ttl, announcer));
  }

  async setMany(
    entries: ReadonlyArray<readonly [string, EntryWrite]>,
    options?: StoreWriteOptions,
  ): Promise<void> {
    await this.#batches.setMany(
      entries.map(([key, entry]) => [this.#prefix + key, key, entry] as const),
      this.#announcerOf(options),
    );
  }

  async compareAndSet(
    key: string,
    expected: string | null,
    entry: EntryWrite | null,
    options?: StoreWriteOptions,
  ): Promise<boolean> {
    const full = this.#prefix + key;
    const announcer = this.#announcerOf(options);
    const reply = await this.#guard.run('compareAndSet', () =>
      withRedirects(this.client, [full], async ([batch]) => {
        const node = batch!.node ?? (this.client as Redis);
        const stream = this.client.isCluster ? `${node.options.host}:${node.options.port}` : undefined;
        // Numbered as they are sent: each stream's messages leave in the order of their numbers.
        const messages = announcer === undefined ? [] : messagesOf([{ key, announcer }], stream);
        return COMPARE_AND_SET.run(node, 1, [
          full,
          expected ?? '',
          entry === null ? '' : this.#stamped(entry),
          entry?.ttlMs === undefined ? '' : String(entry.ttlMs),
          entry === null ? 'd' : 's',
          ...messages,
        ]);
      }),
    );
    return reply === 1;
  }

  /** The tags' version counters (`<namespace>#tag#<tag>`, outside the namespace's keys): one script per master holding some of them. */
  tagVersions(tags: readonly string[]): Promise<number[]> {
    return this.#tags.versions(tags);
  }

  /** Raises the tags' counters (INCR, in one script per master holding some of them). */
  bumpTags(tags: readonly string[]): Promise<number[]> {
    return this.#tags.bump(tags);
  }

  async delete(keys: readonly string[], options?: StoreWriteOptions): Promise<number> {
    const announcer = this.#announcerOf(options);
    if (keys.length === 1 && announcer !== undefined) {
      // One key: gathered with this tick's writes, and announced from the command that deletes it.
      await this.#guard.run('delete', () => this.#writes.delete(keys[0]!, announcer));
      return 1;
    }
    const full = keys.map((k) => this.#prefix + k);
    const deleted = await this.#guard.run(
      'delete',
      () => withRedirects(this.client, full, (batches) => this.#unlink(batches)),
      () => corkForTick(this.client),
    );
    return deleted;
  }

  /** Deletes every key of the namespace: SCAN and UNLINK on every master (never FLUSHDB). */
  async clear(): Promise<void> {
    await deleteMatching(this, '*', () => this.#closed);
  }

  /** SCAN MATCH over the namespace on every master, each step bounded by `commandTimeoutMs`. */
  async *scan(pattern: string): AsyncGenerator<readonly string[]> {
    const match = this.#scanPrefix + pattern;
    // Through the guard, so that a Cluster still discovering its nodes is waited for, not seen as having none. The
    // slot table is reloaded first: after a failover the client's may still list a dead master and miss its
    // promoted replica, whose keys SCAN would then never see.
    const nodes = await this.#guard.run('scan', async () => {
      await refreshSlots(this.client);
      return masters(this.client);
    });
    const strip = this.#prefix.length;
    const step = (node: Redis, cursor: string): Promise<[string, string[]]> => {
      const sent = this.#guard.run('scan', () => node.scan(cursor, 'MATCH', match, 'COUNT', this.#scanCount));
      // Observed at once: a step sent ahead whose walk the caller abandons must not reject unhandled.
      sent.catch(() => {});
      return sent;
    };
    for (const node of nodes) {
      let pending = step(node, '0');
      for (;;) {
        const [next, found] = await pending;
        // The next step is sent before this batch is handed over: its round trip overlaps the caller's work on the
        // batch (deleting it), so that a walk costs one round trip per step, not two.
        if (next !== '0') pending = step(node, next);
        if (found.length > 0) yield found.map((full) => full.slice(strip));
        if (this.#closed) throw closedError('scan');
        if (next === '0') break;
      }
    }
  }

  /** Whether this store announces its writes on `bus` (a bus built on its adapter). */
  announcesOn(bus: InvalidationBus): boolean {
    return this.#announcers.has(bus);
  }

  /**
   * Makes this store announce, when a write asks it to (`{ announce: bus }`), that write's invalidation on `bus`, in
   * the command that writes it, with messages `announcer` builds: what a `RedisPubSubBus` built on the adapter does.
   */
  announceOn(bus: InvalidationBus, announcer: Announcer): void {
    this.#announcers.set(bus, announcer);
  }

  /** Stops announcing on `bus` (it closed). */
  stopAnnouncing(bus: InvalidationBus): void {
    this.#announcers.delete(bus);
  }

  /** Rejects pending calls and stops measuring the clock (the adapter closes the client if it owns it). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#clock.stop();
    this.#guard.abort((operation) => closedError(operation));
  }

  #announcerOf(options: StoreWriteOptions | undefined): Announcer | undefined {
    const bus = options?.announce;
    return bus === undefined ? undefined : this.#announcers.get(bus);
  }

  /** The text stored for `entry`, stamped now: see `valueFormat`. */
  #stamped(entry: EntryWrite): string {
    const { text, ttlMs, meta } = entry;
    const known = this.#clock.known;
    if (meta === undefined) {
      // Without a measured clock, no expiry can be stamped: the text alone is stored, and read with its PTTL. But a
      // text that begins like an envelope would then be read as one: it is always wrapped, and with an unknown clock
      // its expiry says 0, which lets it be read but never copied into a tier above.
      const looksWrapped = text.startsWith(ENVELOPE_PREFIX) || text.startsWith(META_ENVELOPE_PREFIX);
      if ((this.#plain || !known) && !looksWrapped) return text;
      return wrapEntry(text, ttlMs === undefined ? undefined : known ? this.#clock.earliest() + ttlMs : 0);
    }
    // Metadata needs the clock to place its times; without it they are stamped as already passed.
    const now = known ? this.#clock.earliest() : 0;
    return wrapEntry(text, ttlMs === undefined ? undefined : now + ttlMs, stampMeta(meta, now));
  }

  /** UNLINKs `batches`' keys, per slot on a Cluster; how many existed. */
  async #unlink(batches: readonly MasterBatch[]): Promise<number> {
    let deleted = 0;
    await Promise.all(
      batches.map(async (batch) => {
        const node = batch.node ?? (this.client as Redis);
        if (!this.client.isCluster) {
          deleted += await node.unlink(batch.groups[0]!.keys);
          return;
        }
        const pipeline = node.pipeline();
        for (const group of batch.groups) pipeline.unlink(group.keys);
        for (const [error, count] of (await pipeline.exec()) ?? []) {
          if (error) throw error;
          deleted += count as number;
        }
      }),
    );
    return deleted;
  }
}

/** The entry a read found; a stored text that is not a well-formed envelope is refused. */
function entryOf(result: ReadResult): Entry | undefined {
  if (result instanceof Error) throw result;
  return result;
}
