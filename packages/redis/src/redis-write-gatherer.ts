import type { Redis } from 'ioredis';
import { type Deferred, deferred } from './deferred.js';
import { isScriptRefused, LuaScript } from './lua-script.js';

/**
 * The writes of a tick, and the invalidations announcing them: KEYS are the keys; ARGV holds, per key, an operation
 * (`s`: SET, `d`: UNLINK), a text and a TTL in ms (empty: none), then pairs of a channel and a message. Every write
 * is attempted even if one fails, and the messages are published whatever the writes did: a write whose effect is
 * unknown must still be announced.
 */
export const WRITE_SCRIPT = `#!lua
local n = #KEYS
local failure
for i = 1, n do
  local reply
  if ARGV[3 * i - 2] == 'd' then
    reply = redis.pcall('UNLINK', KEYS[i])
  elseif ARGV[3 * i] == '' then
    reply = redis.pcall('SET', KEYS[i], ARGV[3 * i - 1])
  else
    reply = redis.pcall('SET', KEYS[i], ARGV[3 * i - 1], 'PX', ARGV[3 * i])
  end
  if type(reply) == 'table' and reply.err ~= nil and failure == nil then failure = reply.err end
end
for j = 3 * n + 1, #ARGV, 2 do
  redis.call('PUBLISH', ARGV[j], ARGV[j + 1])
end
if failure ~= nil then return redis.error_reply(failure) end
return n`;

const WRITE = new LuaScript(WRITE_SCRIPT);

/**
 * {@link WRITE_SCRIPT} for one write: ARGV holds its operation, text and TTL, then pairs of a channel and a message.
 * Its own script, as the loop costs Redis about as much again as the write itself.
 */
export const WRITE_ONE_SCRIPT = `#!lua
local reply
if ARGV[1] == 'd' then
  reply = redis.pcall('UNLINK', KEYS[1])
elseif ARGV[3] == '' then
  reply = redis.pcall('SET', KEYS[1], ARGV[2])
else
  reply = redis.pcall('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
end
for j = 4, #ARGV, 2 do
  redis.call('PUBLISH', ARGV[j], ARGV[j + 1])
end
if type(reply) == 'table' and reply.err ~= nil then return reply end
return 1`;

const WRITE_ONE = new LuaScript(WRITE_ONE_SCRIPT);

/** The most writes one batch carries; more in one tick make several, sent back to back. */
const GATHER_LIMIT = 256;

/** How a paired bus announces writes: a message naming the keys, built when it is sent (it numbers them). */
export interface Announcer {
  /** The channel messages go to. */
  readonly channel: string;
  /** The message invalidating `keys`, numbered in the order messages leave this connection. */
  message(keys: readonly string[]): string;
}

interface Batch {
  readonly keys: string[];
  /** The same keys, without the namespace prefix. */
  readonly written: Set<string>;
  /** Per key: operation, text, TTL (see WRITE_SCRIPT). */
  readonly args: string[];
  /** Per bus: the keys whose invalidation travels in this batch's command. */
  announced: Map<Announcer, Set<string>> | undefined;
  readonly done: Deferred<void>;
}

/** The gatherer of each adapter, so that a bus paired with it can announce the writes it carries. */
const gatherers = new WeakMap<object, RedisWriteGatherer>();

/**
 * Puts `announcer`'s invalidation of `keys` into the command that carries their pending writes of `owner` (an
 * adapter), so that one command writes them and then publishes it; resolves with that command. `undefined`, having
 * attached nothing, unless every key has a write waiting to be sent (a write still waiting for the connection is
 * not).
 */
export function announceBehind(
  owner: object,
  keys: readonly string[],
  announcer: Announcer,
): Promise<void> | undefined {
  return gatherers.get(owner)?.announce(keys, announcer);
}

/**
 * Single-key writes (SET and UNLINK) on a standalone (or Sentinel) server. Writes issued within one tick are
 * gathered and sent when the tick ends as one command: a lone write as itself, several as one Lua script, where
 * each would otherwise cost a command of its own. A paired bus may attach the invalidation of those writes (see
 * {@link announceBehind}): the script then publishes it after writing, so that the write and its announcement
 * cost one command and no one hears of a write before it took effect. Each key is still written exactly as its own
 * command would write it; a script failing part-way fails every write it carried (their effect is then unknown,
 * as for a timeout). Not used on a Cluster, where a script refused for a key its node no longer serves could not
 * be retried without risking an older value over a newer one.
 */
export class RedisWriteGatherer {
  readonly #client: Redis;
  readonly #prefix: string;
  #batch: Batch | undefined;
  #scriptRefused = false;

  /** `owner` is the adapter, whose keys are stored under `prefix`: {@link announceBehind} of it reaches this gatherer. */
  constructor(client: Redis, owner: object, prefix: string) {
    this.#client = client;
    this.#prefix = prefix;
    gatherers.set(owner, this);
  }

  /** Stores `text` under `key` for `ttlMs` (none: no expiry), with the other writes of this tick. */
  set(key: string, text: string, ttlMs: number | undefined): Promise<void> {
    return this.#add(key, 's', text, ttlMs === undefined ? '' : String(ttlMs));
  }

  /** Removes `key` (UNLINK), with the other writes of this tick. */
  delete(key: string): Promise<void> {
    return this.#add(key, 'd', '', '');
  }

  /** See {@link announceBehind}. */
  announce(keys: readonly string[], announcer: Announcer): Promise<void> | undefined {
    const batch = this.#batch;
    if (batch === undefined) return undefined;
    for (const key of keys) if (!batch.written.has(key)) return undefined;
    batch.announced ??= new Map();
    let announced = batch.announced.get(announcer);
    if (announced === undefined) {
      announced = new Set();
      batch.announced.set(announcer, announced);
    }
    for (const key of keys) announced.add(key);
    return batch.done.promise;
  }

  #add(key: string, op: string, text: string, ttl: string): Promise<void> {
    let batch = this.#batch;
    if (batch === undefined) {
      const created: Batch = {
        keys: [],
        written: new Set(),
        args: [],
        announced: undefined,
        done: deferred<void>(),
      };
      this.#batch = batch = created;
      // After every promise reaction of this tick, so that concurrent writes (and their announcements) join it.
      process.nextTick(() => this.#flush(created));
    }
    batch.keys.push(this.#prefix + key);
    batch.written.add(key);
    batch.args.push(op, text, ttl);
    const { promise } = batch.done;
    if (batch.keys.length >= GATHER_LIMIT) this.#flush(batch);
    return promise;
  }

  #flush(batch: Batch): void {
    if (this.#batch !== batch) return;
    this.#batch = undefined;
    // Numbered now, as they are written to the connection: each bus's messages leave in the order of their numbers.
    const messages: string[] = [];
    for (const [announcer, keys] of batch.announced ?? [])
      messages.push(announcer.channel, announcer.message([...keys]));
    this.#send(batch, messages).then(batch.done.resolve, batch.done.reject);
  }

  /** Sends the batch's writes, then `messages` (channel, message, channel, message, …). */
  async #send({ keys, args }: Batch, messages: readonly string[]): Promise<void> {
    if (keys.length === 1 && messages.length === 0) {
      await this.#sendPlain(keys, args, 0);
      return;
    }
    if (!this.#scriptRefused) {
      try {
        if (keys.length === 1) await WRITE_ONE.run(this.#client, 1, [keys[0]!, ...args, ...messages]);
        else await WRITE.run(this.#client, keys.length, [...keys, ...args, ...messages]);
        return;
      } catch (error) {
        if (!isScriptRefused(error)) throw error;
        // Refused before running: nothing was written, so the commands go one by one, now and from then on.
        this.#scriptRefused = true;
      }
    }
    // On one connection, a PUBLISH sent behind the writes runs after them, whatever they did.
    const sent = keys.map((_, i) => this.#sendPlain(keys, args, i));
    for (let j = 0; j < messages.length; j += 2)
      sent.push(this.#client.publish(messages[j]!, messages[j + 1]!));
    await Promise.all(sent);
  }

  #sendPlain(keys: readonly string[], args: readonly string[], i: number): Promise<unknown> {
    const key = keys[i]!;
    const [op, text, ttl] = [args[3 * i]!, args[3 * i + 1]!, args[3 * i + 2]!];
    if (op === 'd') return this.#client.unlink(key);
    return ttl === '' ? this.#client.set(key, text) : this.#client.set(key, text, 'PX', Number(ttl));
  }
}
