import type { SerializationError } from '@strata-cache/core';
import type { Cluster, Redis } from 'ioredis';
import { type MasterBatch, masterOf, withRedirects } from './cluster-routing.js';
import { isScriptRefused, LuaScript } from './lua-script.js';
import type { RedisClock } from './redis-clock.js';
import { unwrapEntry } from './stored-entry.js';

/** A stored value: the codec's text, with its remaining TTL in ms (`undefined`: no expiry). */
export interface RawEntry {
  readonly text: string;
  readonly ttlMs: number | undefined;
}

/** What a read finds under a key: an entry, nothing, or a text that is not a well-formed envelope. */
export type ReadResult = RawEntry | SerializationError | undefined;

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
  /** Whether the caller at each position needs the TTL. */
  readonly ttl: boolean[];
  readonly resolves: Array<(result: ReadResult) => void>;
  readonly rejects: Array<(error: unknown) => void>;
}

/** A stored text that carries no expiry, read where the TTL is needed: it must be read again with its PTTL. */
const AGAIN: unique symbol = Symbol('again');

/**
 * Reads values, with their remaining TTLs where asked, from Redis. A value Strata wrote carries its absolute
 * expiry (see `stored-entry.ts`), so a read is one GET or MGET: its TTL is the expiry less Redis's time now, as
 * bounded by the {@link RedisClock}. A text without an expiry of its own is read again together with its PTTL,
 * atomically.
 *
 * Single-key reads issued within one tick are gathered and sent together when the tick ends: one MGET (on a
 * Cluster, one pipeline of MGETs per master) for all of them, where every read would otherwise cost a command.
 */
export class RedisEntryReader {
  readonly #client: Redis | Cluster;
  readonly #clock: RedisClock;
  #scriptRefused = false;
  #gathered: Gathered | undefined;

  constructor(client: Redis | Cluster, clock: RedisClock) {
    this.#client = client;
    this.#clock = clock;
  }

  /** What is stored under one full key (with its TTL when `ttl`), read together with this tick's other reads. */
  readOne(fullKey: string, ttl: boolean): Promise<ReadResult> {
    let gathered = this.#gathered;
    if (gathered === undefined || gathered.keys.length >= GATHER_LIMIT) gathered = this.#gather();
    const { keys, resolves, rejects } = gathered;
    keys.push(fullKey);
    gathered.ttl.push(ttl);
    return new Promise<ReadResult>((resolve, reject) => {
      resolves.push(resolve);
      rejects.push(reject);
    });
  }

  /** What is stored under `fullKeys`, by position, with TTLs where `ttl`: one round trip per master. */
  read(fullKeys: readonly string[], ttl: boolean | readonly boolean[]): Promise<ReadResult[]> {
    const results = new Array<ReadResult>(fullKeys.length);
    return withRedirects(this.#client, fullKeys, async (batches) => {
      await Promise.all(batches.map((batch) => this.#readBatch(batch, ttl, results)));
      return results;
    });
  }

  #gather(): Gathered {
    const gathered: Gathered = { keys: [], ttl: [], resolves: [], rejects: [] };
    this.#gathered = gathered;
    // After every promise reaction of this tick, so that concurrent callers land in one batch.
    process.nextTick(() => this.#send(gathered));
    return gathered;
  }

  #send(gathered: Gathered): void {
    if (this.#gathered === gathered) this.#gathered = undefined;
    const { keys, ttl, resolves, rejects } = gathered;
    if (keys.length === 1 && !this.#client.isCluster) {
      // A lone read: GET, the cheapest command and reply (a key of another type answers WRONGTYPE, read as absent
      // as MGET reads it). Only a text without an expiry of its own, read for its TTL, takes the general way.
      (this.#client as Redis).get(keys[0]!).then(
        (stored) => {
          const result = stored === null ? undefined : this.#resultOf(stored, ttl[0]!, this.#latest());
          if (result !== AGAIN) resolves[0]!(result);
          else this.read(keys, ttl).then((results) => resolves[0]!(results[0]), rejects[0]!);
        },
        (error: unknown) => {
          if (error instanceof Error && error.message.startsWith('WRONGTYPE')) resolves[0]!(undefined);
          else rejects[0]!(error);
        },
      );
      return;
    }
    this.read(keys, ttl).then(
      (results) => {
        for (let i = 0; i < results.length; i++) resolves[i]!(results[i]);
      },
      (error: unknown) => {
        for (const reject of rejects) reject(error);
      },
    );
  }

  /** Redis's time now at the latest (no TTL computed from it outlives the value in Redis); unknown: `undefined`. */
  #latest(): number | undefined {
    return this.#clock.known ? this.#clock.latest() : undefined;
  }

  /** What `stored` holds, with its TTL from its envelope when `ttl`; {@link AGAIN} when it carries none. */
  #resultOf(stored: string, ttl: boolean, latest: number | undefined): ReadResult | typeof AGAIN {
    let unwrapped: ReturnType<typeof unwrapEntry>;
    try {
      unwrapped = unwrapEntry(stored);
    } catch (error) {
      return error as SerializationError;
    }
    const { text, expiresAt } = unwrapped;
    if (expiresAt === undefined || !ttl) return { text, ttlMs: undefined };
    if (expiresAt === null || latest === undefined) return AGAIN;
    return { text, ttlMs: Math.max(0, Math.floor(expiresAt - latest)) };
  }

  async #readBatch(
    batch: MasterBatch,
    ttl: boolean | readonly boolean[],
    results: ReadResult[],
  ): Promise<void> {
    const node = masterOf(batch);
    const { keys, positions } = flatten(batch);
    const texts = await mgetBatch(node, batch);
    const latest = this.#latest();
    const again: number[] = [];
    for (let b = 0; b < texts.length; b++) {
      const stored = texts[b];
      if (stored === null || stored === undefined) continue;
      const position = positions[b]!;
      const result = this.#resultOf(stored, typeof ttl === 'boolean' ? ttl : ttl[position]!, latest);
      if (result === AGAIN) again.push(b);
      else results[position] = result;
    }
    if (again.length === 0) return;
    const sent = performance.now();
    const replies = await this.#fetchWithPttl(
      node,
      again.map((b) => keys[b]!),
    );
    // Redis counted each PTTL at some moment of the round trip; the caller counts from the reply on. Taking the whole
    // round trip off (and Redis's millisecond rounding) keeps what the caller computes from outliving the key.
    const elapsed = performance.now() - sent + PTTL_MARGIN_MS;
    for (let i = 0; i < again.length; i++) {
      const position = positions[again[i]!]!;
      const stored = replies[2 * i] as string | null;
      const pttl = replies[2 * i + 1] as number;
      results[position] = undefined;
      if (stored === null || pttl === -2) continue;
      try {
        const ttlMs = pttl === -1 ? undefined : Math.max(0, Math.floor(pttl - elapsed));
        results[position] = { text: unwrapEntry(stored).text, ttlMs };
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
