import type { Cluster, Redis } from 'ioredis';
import { type MasterBatch, masterOf, withRedirects } from './cluster-routing.js';
import { deferred } from './deferred.js';
import { isScriptRefused, LuaScript } from './lua-script.js';
import { corkForTick } from './tick-cork.js';

/** A stored text with its remaining TTL in ms (`undefined`: no expiry). */
export interface RawEntry {
  readonly text: string;
  readonly ttlMs: number | undefined;
}

/**
 * The value and PTTL of every key, atomically (a key cannot expire between the two), in one command: MGET plus a
 * PTTL per key found. Keys of another type read as absent, as MGET reads them. A Cluster refuses declared keys of
 * several slots (CROSSSLOT) even with `allow-cross-slot-keys`, and so does MGET inside the script, so there the keys
 * come as arguments and are read with one GET each; a key the master no longer serves fails the script ("non local
 * key"), which is retried on a fresh slot table like a MOVED.
 */
export const READ_SCRIPT = `#!lua flags=no-writes,allow-cross-slot-keys
local keys = KEYS
local texts
if #keys > 0 then
  texts = redis.call('MGET', unpack(keys))
else
  -- A Cluster: keys of several slots, so one GET each (MGET must stay within a slot).
  keys = ARGV
  texts = {}
  for i = 1, #keys do
    local text = redis.pcall('GET', keys[i])
    if type(text) == 'table' and text.err ~= nil then
      if string.find(text.err, 'non local key') then return redis.error_reply(text.err) end
      text = false
    end
    texts[i] = text
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

/**
 * The most keys one gathered read carries; more in one tick make several, sent back to back. Smaller batches let
 * the client decode one reply while Redis runs the next script, instead of each waiting for the other.
 */
const GATHER_LIMIT = Number(process.env.STRATA_GATHER ?? 128);

/** The most keys one script call reads (Lua's `unpack` refuses a few thousand). */
const SCRIPT_KEYS = 1000;

/** The reads gathered in one tick: each distinct key once, and the promise of their entries. */
interface Gathered {
  readonly keys: string[];
  readonly index: Map<string, number>;
  readonly entries: Promise<Array<RawEntry | undefined>>;
  readonly send: () => void;
}

/**
 * Reads values with their remaining TTLs from Redis. Single-key reads issued within one tick are gathered and
 * sent together when the tick ends: one command per master for all of them (a Lua script), where every read would
 * otherwise cost a command pair of its own. A lone read is sent as MGET and PTTL back to back, the cheapest form
 * for one key.
 */
export class RedisEntryReader {
  readonly #client: Redis | Cluster;
  #scriptRefused = false;
  #gathered: Gathered | undefined;

  constructor(client: Redis | Cluster) {
    this.#client = client;
  }

  /** The entry of one full key, read together with the other keys asked for in this tick. */
  readOne(fullKey: string): Promise<RawEntry | undefined> {
    let gathered = this.#gathered;
    if (gathered === undefined || gathered.keys.length >= GATHER_LIMIT) {
      gathered = this.#gather();
      // After every promise reaction of this tick, so that concurrent callers land in one batch.
      process.nextTick(gathered.send);
    }
    let i = gathered.index.get(fullKey);
    if (i === undefined) {
      i = gathered.keys.length;
      gathered.keys.push(fullKey);
      gathered.index.set(fullKey, i);
    }
    const at = i;
    return gathered.entries.then((entries) => entries[at]);
  }

  /** The entries of `fullKeys` (distinct), by position: one round trip per master. */
  read(fullKeys: readonly string[]): Promise<Array<RawEntry | undefined>> {
    const result = new Array<RawEntry | undefined>(fullKeys.length);
    return withRedirects(this.#client, fullKeys, async (batches) => {
      await Promise.all(batches.map((batch) => this.#readBatch(batch, result)));
      return result;
    });
  }

  #gather(): Gathered {
    const keys: string[] = [];
    const entries = deferred<Array<RawEntry | undefined>>();
    const send = (): void => {
      if (this.#gathered?.keys === keys) this.#gathered = undefined;
      this.read(keys).then(entries.resolve, entries.reject);
    };
    this.#gathered = { keys, index: new Map(), entries: entries.promise, send };
    return this.#gathered;
  }

  async #readBatch(batch: MasterBatch, result: Array<RawEntry | undefined>): Promise<void> {
    const node = masterOf(batch);
    // A lone key is read with two commands: written together, they cost one system call.
    corkForTick(node, batch.groups.length === 1 && batch.groups[0]!.keys.length === 1);
    const keys = batch.groups.length === 1 ? batch.groups[0]!.keys : batch.groups.flatMap((g) => g.keys);
    const positions =
      batch.groups.length === 1 ? batch.groups[0]!.positions : batch.groups.flatMap((g) => g.positions);
    const replies = await this.#fetch(node, keys);
    for (let i = 0; i < keys.length; i++) {
      const text = replies[2 * i] as string | null;
      const pttl = replies[2 * i + 1] as number;
      if (text !== null && pttl !== -2)
        result[positions[i]!] = { text, ttlMs: pttl === -1 ? undefined : pttl };
    }
  }

  /** `[text, pttl, text, pttl, …]` for `keys`, all served by `node`. */
  async #fetch(node: Redis, keys: string[]): Promise<unknown[]> {
    if (keys.length === 1) {
      // Two commands back to back on one connection: one round trip, no script to run, no pipeline to allocate.
      // MGET, not GET: a key of another type reads as absent.
      const [[text], pttl] = await Promise.all([node.mget(keys), node.pttl(keys[0]!)]);
      return [text ?? null, pttl];
    }
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
    const pipeline = node.pipeline();
    pipeline.mget(keys);
    for (const key of keys) pipeline.pttl(key);
    const replies = (await pipeline.exec()) ?? [];
    for (const [error] of replies) if (error) throw error;
    const texts = replies[0]![1] as Array<string | null>;
    return keys.flatMap((_, i) => [texts[i] ?? null, replies[i + 1]![1]]);
  }

  async #runScript(node: Redis, keys: string[]): Promise<unknown[]> {
    // Keys are declared on a standalone server; on a Cluster they go as arguments (see READ_SCRIPT).
    return (await READ.run(node, this.#client.isCluster ? 0 : keys.length, keys)) as unknown[];
  }
}
