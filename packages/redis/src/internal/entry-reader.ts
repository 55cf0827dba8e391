import { type Entry, type EntryMeta, type SerializationError, unwrapEntry } from '@strata-cache/core';
import { monotonicNow, TickBatcher } from '@strata-cache/core/internal';
import type { Cluster, Redis } from 'ioredis';
import { type MasterBatch, masterOf, withRedirects } from './cluster-routing.js';
import { isScriptRefused, LuaScript } from './lua-script.js';
import type { RedisClock } from './redis-clock.js';

/** What a read finds under a key: an entry, nothing, or a text that is not a well-formed envelope. */
export type ReadResult = Entry | SerializationError | undefined;

/**
 * The value and PTTL of every key, atomically (a key cannot expire between the two), in one command: MGET plus a
 * PTTL per key found. Only for texts that carry no expiry of their own (see `stored-entry.ts`). Keys of another
 * type read as absent, as MGET reads them. A Cluster refuses declared keys of several slots (CROSSSLOT) even with
 * `allow-cross-slot-keys`, and so does MGET inside the script, so there the keys come as arguments and are read
 * with a one-key MGET each; a key the master no longer serves fails the script ("non local key"), which is retried
 * on a fresh slot table like a MOVED.
 */
export const READ_SCRIPT = `#!lua flags=no-writes,allow-cross-slot-keys
local keys = KEYS
local texts
if #keys > 0 then
  texts = redis.call('MGET', unpack(keys))
else
  -- A Cluster: keys of several slots, so one MGET each (a multi-key MGET must stay within a slot).
  keys = ARGV
  texts = {}
  for i = 1, #keys do
    local found = redis.pcall('MGET', keys[i])
    if found.err ~= nil then return redis.error_reply(found.err) end
    texts[i] = found[1]
  end
end
local out = {}
for i = 1, #keys do
  local text = texts[i]
  if text then
    out[2 * i - 1] = text
    out[2 * i] = redis.call('PTTL', keys[i])
  else
    out[2 * i - 1] = false
    out[2 * i] = -2
  end
end
return out`;

const READ = new LuaScript(READ_SCRIPT);

/** The most keys one gathered read carries; more in one tick make several, sent back to back. */
const GATHER_LIMIT = 256;

/** Taken off a TTL read with PTTL, besides the round trip: Redis counts expiry in whole milliseconds. */
const PTTL_MARGIN_MS = 1;

/** The most keys one script call reads (Lua's `unpack` refuses a few thousand). */
const SCRIPT_KEYS = 1000;

/** The reads gathered in one tick, and their callers (a key asked for twice is read twice). */
interface Gathered {
  readonly keys: string[];
  readonly resolves: Array<(result: ReadResult) => void>;
  readonly rejects: Array<(error: unknown) => void>;
}

/** A stored text that carries no expiry: it must be read again with its PTTL. */
const AGAIN: unique symbol = Symbol('again');

/**
 * Reads entries from Redis. An entry Strata wrote carries its absolute expiry in Redis's clock (an envelope, see
 * `wrapEntry`), so a read is one GET or MGET; its times are turned into this process's monotonic clock through the
 * {@link RedisClock}'s bounds, so that none outlives the key in Redis. A text without an expiry of its own is read
 * again together with its PTTL, atomically (with `plain`, every text is read so at once).
 *
 * Single-key reads issued within one tick are gathered and sent together when the tick ends: one MGET (on a
 * Cluster, one pipeline of MGETs per master) for all of them, where every read would otherwise cost a command.
 */
export class RedisEntryReader {
  readonly #client: Redis | Cluster;
  readonly #clock: RedisClock;
  /** Texts are stored without an envelope: read every one with its PTTL at once. */
  readonly #plain: boolean;
  readonly #gatherer: TickBatcher<Gathered>;
  #scriptRefused = false;

  constructor(client: Redis | Cluster, clock: RedisClock, plain: boolean) {
    this.#client = client;
    this.#clock = clock;
    this.#plain = plain;
    this.#gatherer = new TickBatcher<Gathered>(
      () => ({ keys: [], resolves: [], rejects: [] }),
      (gathered) => this.#send(gathered),
      (gathered) => gathered.keys.length >= GATHER_LIMIT,
    );
  }

  /** The entry under one full key, read together with this tick's other reads. */
  readOne(fullKey: string): Promise<ReadResult> {
    const gathered = this.#gatherer.current();
    gathered.keys.push(fullKey);
    const read = new Promise<ReadResult>((resolve, reject) => {
      gathered.resolves.push(resolve);
      gathered.rejects.push(reject);
    });
    this.#gatherer.sendIfFull();
    return read;
  }

  /** The entries under `fullKeys`, by position: one round trip per master. */
  read(fullKeys: readonly string[]): Promise<ReadResult[]> {
    const results = new Array<ReadResult>(fullKeys.length);
    return withRedirects(this.#client, fullKeys, async (batches) => {
      await Promise.all(batches.map((batch) => this.#readBatch(batch, results)));
      return results;
    });
  }

  #send(gathered: Gathered): void {
    const { keys, resolves, rejects } = gathered;
    if (keys.length === 1 && !this.#client.isCluster && !this.#plain) {
      // A lone read: GET, the cheapest command and reply (a key of another type answers WRONGTYPE, read as absent
      // as MGET reads it). Only a text without an expiry of its own takes the general way.
      (this.#client as Redis).get(keys[0]!).then(
        (stored) => {
          const result = stored === null ? undefined : this.#resultOf(stored, this.#offset());
          if (result !== AGAIN) resolves[0]!(result);
          else this.read(keys).then((results) => resolves[0]!(results[0]), rejects[0]!);
        },
        (error: unknown) => {
          if (error instanceof Error && error.message.startsWith('WRONGTYPE')) resolves[0]!(undefined);
          else rejects[0]!(error);
        },
      );
      return;
    }
    this.read(keys).then(
      (results) => {
        for (let i = 0; i < results.length; i++) resolves[i]!(results[i]);
      },
      (error: unknown) => {
        for (const reject of rejects) reject(error);
      },
    );
  }

  /**
   * What to add to a time in Redis's clock to have it in this process's (never later than the moment Redis means);
   * `undefined` while Redis's clock is not measured.
   */
  #offset(): number | undefined {
    return this.#clock.known ? monotonicNow() - this.#clock.latest() : undefined;
  }

  /** The entry `stored` holds, its times in this process's clock; {@link AGAIN} when it carries no expiry. */
  #resultOf(stored: string, offset: number | undefined): ReadResult | typeof AGAIN {
    let unwrapped: ReturnType<typeof unwrapEntry>;
    try {
      unwrapped = unwrapEntry(stored);
    } catch (error) {
      return error as SerializationError;
    }
    const { text, expiresAt, meta } = unwrapped;
    if (expiresAt === null || (offset === undefined && (expiresAt !== undefined || meta !== undefined)))
      return AGAIN;
    return {
      text,
      expiresAt: expiresAt === undefined ? undefined : expiresAt + offset!,
      meta: meta === undefined ? undefined : localMeta(meta, offset!),
    };
  }

  async #readBatch(batch: MasterBatch, results: ReadResult[]): Promise<void> {
    const node = masterOf(batch);
    const { keys, positions } = flatten(batch);
    let again: number[];
    if (this.#plain) {
      again = keys.map((_, b) => b);
    } else {
      const texts = await mgetBatch(node, batch);
      const offset = this.#offset();
      again = [];
      for (let b = 0; b < texts.length; b++) {
        const stored = texts[b];
        if (stored === null || stored === undefined) continue;
        const result = this.#resultOf(stored, offset);
        if (result === AGAIN) again.push(b);
        else results[positions[b]!] = result;
      }
      if (again.length === 0) return;
    }
    const sent = monotonicNow();
    const replies = await this.#fetchWithPttl(
      node,
      again.map((b) => keys[b]!),
    );
    // Redis counted each PTTL at some moment of the round trip: counting it from before the request (less Redis's
    // millisecond rounding) keeps the expiry from being later than the key's.
    const base = sent - PTTL_MARGIN_MS;
    for (let i = 0; i < again.length; i++) {
      const position = positions[again[i]!]!;
      const stored = replies[2 * i] as string | null;
      const pttl = replies[2 * i + 1] as number;
      results[position] = undefined;
      if (stored === null || pttl === -2) continue;
      try {
        const { text, meta } = unwrapEntry(stored);
        const expiresAt = pttl === -1 ? undefined : base + pttl;
        // Without a measured clock, the metadata's times cannot be placed: they are dropped.
        results[position] = {
          text,
          expiresAt,
          meta: meta === undefined ? undefined : localMeta(meta, this.#offset()),
        };
      } catch (error) {
        results[position] = error as SerializationError;
      }
    }
  }

  /** `[text, pttl, text, pttl, …]` for `keys`, all served by `node`. */
  async #fetchWithPttl(node: Redis, keys: string[]): Promise<unknown[]> {
    if (!this.#scriptRefused) {
      try {
        if (keys.length <= SCRIPT_KEYS) return await this.#runScript(node, keys);
        // Lua unpacks at most a few thousand values: long lists go in several calls, pipelined on one connection.
        const chunks: string[][] = [];
        for (let i = 0; i < keys.length; i += SCRIPT_KEYS) chunks.push(keys.slice(i, i + SCRIPT_KEYS));
        return (await Promise.all(chunks.map((chunk) => this.#runScript(node, chunk)))).flat();
      } catch (error) {
        if (!isScriptRefused(error)) throw error;
        this.#scriptRefused = true;
      }
    }
    // Without scripts, not atomic: a key may expire between its MGET and its PTTL, and then reads as absent.
    const pipeline = node.pipeline();
    for (const key of keys) pipeline.mget(key).pttl(key);
    const replies = (await pipeline.exec()) ?? [];
    return replies.map(([error, reply], i) => {
      if (error) throw error;
      return i % 2 === 0 ? ((reply as Array<string | null>)[0] ?? null) : reply;
    });
  }

  async #runScript(node: Redis, keys: string[]): Promise<unknown[]> {
    // Keys are declared on a standalone server; on a Cluster they go as arguments (see READ_SCRIPT).
    return (await READ.run(node, this.#client.isCluster ? 0 : keys.length, keys)) as unknown[];
  }
}

/** `meta` with its times in this process's clock (`offset` added); without an offset, only what has no time. */
function localMeta(meta: EntryMeta, offset: number | undefined): EntryMeta | undefined {
  const { freshUntil, writtenAt, lease, version, tags, placeholder, unverified } = meta;
  const local: { -readonly [K in keyof EntryMeta]: EntryMeta[K] } = {};
  if (version !== undefined) local.version = version;
  if (tags !== undefined) local.tags = tags;
  if (placeholder !== undefined) local.placeholder = placeholder;
  if (unverified !== undefined) local.unverified = unverified;
  if (offset !== undefined) {
    if (writtenAt !== undefined) local.writtenAt = writtenAt + offset;
    // Not fresh for longer than Redis's clock says: the stale horizon is an expiry too.
    if (freshUntil !== undefined) local.freshUntil = freshUntil + offset;
    if (lease !== undefined) local.lease = { token: lease.token, until: lease.until + offset };
  } else if (freshUntil !== undefined) {
    // A stale horizon that cannot be placed is taken as passed: never served as fresh.
    local.freshUntil = 0;
  }
  return local;
}

/** A batch's keys and their positions in the caller's list, in batch order. */
function flatten(batch: MasterBatch): { keys: readonly string[]; positions: readonly number[] } {
  if (batch.groups.length === 1) return batch.groups[0]!;
  return { keys: batch.groups.flatMap((g) => g.keys), positions: batch.groups.flatMap((g) => g.positions) };
}

/**
 * The stored texts of a batch's keys, in batch order: one MGET on a standalone server; on a Cluster one MGET per
 * hash slot (a multi-key command must stay within a slot), pipelined on the master's own connection.
 */
async function mgetBatch(node: Redis, batch: MasterBatch): Promise<Array<string | null>> {
  if (batch.groups.length === 1) return node.mget(batch.groups[0]!.keys);
  const pipeline = node.pipeline();
  for (const group of batch.groups) pipeline.mget(group.keys);
  const replies = (await pipeline.exec()) ?? [];
  const texts: Array<string | null> = [];
  for (let g = 0; g < batch.groups.length; g++) {
    const [error, found] = replies[g] ?? [new Error('missing reply'), null];
    if (error) throw error;
    for (const text of found as Array<string | null>) texts.push(text);
  }
  return texts;
}
