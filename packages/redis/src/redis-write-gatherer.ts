import type { Cluster, Redis } from 'ioredis';
import { batchesOf, isRedirection, type MasterBatch, refreshSlots } from './cluster-routing.js';
import { type Deferred, deferred } from './deferred.js';
import { isScriptRefused, LuaScript, replyError } from './lua-script.js';

/**
 * The writes one master gets in one tick, and the invalidations announcing them. ARGV holds the number of writes,
 * then per write its key, operation (`s`: SET, `d`: UNLINK), text and TTL in ms (empty: none), then pairs of a
 * channel and a message. Keys come as arguments, not declared: on a Cluster they may be of several slots of this
 * master (`allow-cross-slot-keys`), and a key the master no longer serves fails alone ("non local key") without
 * stopping the others. Every write is attempted, the messages are published whatever the writes did (a write whose
 * effect is unknown must still be announced), and the reply says, per write, 1 or the error it met.
 */
export const WRITE_SCRIPT = `#!lua flags=allow-cross-slot-keys
local n = tonumber(ARGV[1])
local results = {}
for i = 0, n - 1 do
  local key, op, text, ttl = ARGV[4 * i + 2], ARGV[4 * i + 3], ARGV[4 * i + 4], ARGV[4 * i + 5]
  local reply
  if op == 'd' then
    reply = redis.pcall('UNLINK', key)
  elseif ttl == '' then
    reply = redis.pcall('SET', key, text)
  else
    reply = redis.pcall('SET', key, text, 'PX', ttl)
  end
  if type(reply) == 'table' and reply.err ~= nil then results[i + 1] = reply.err else results[i + 1] = 1 end
end
for j = 4 * n + 2, #ARGV, 2 do
  redis.call('PUBLISH', ARGV[j], ARGV[j + 1])
end
return results`;

/**
 * {@link WRITE_SCRIPT} for one write, declared (so a Cluster node that does not serve it answers MOVED and runs
 * nothing): ARGV holds its operation, text and TTL, then pairs of a channel and a message. Its own script, as the
 * loop costs Redis about as much again as the write itself. It answers 1, or the error the write met.
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
if type(reply) == 'table' and reply.err ~= nil then return reply.err end
return 1`;

const WRITE = new LuaScript(WRITE_SCRIPT);
const WRITE_ONE = new LuaScript(WRITE_ONE_SCRIPT);

/** The most writes one batch carries; more in one tick make several, sent back to back. */
const GATHER_LIMIT = 256;

/** How a paired bus announces writes: a message naming the keys, built when it is sent (it numbers them). */
export interface Announcer {
  /** The channel messages go to. */
  readonly channel: string;
  /**
   * The messages invalidating `keys` (several when one would be too large), numbered in the order messages of
   * `stream` are sent: every message of one stream leaves from one Redis node, so it reaches every subscriber in
   * that order. `undefined`: the bus's own stream.
   */
  messages(keys: readonly string[], stream: string | undefined): string[];
}

/** One write waiting to be sent, and its caller. */
interface Write {
  /** The key without the namespace prefix, and with it. */
  readonly key: string;
  readonly fullKey: string;
  /** `s` (SET) or `d` (UNLINK). */
  readonly op: string;
  readonly text: string;
  /** TTL in ms, or empty. */
  readonly ttl: string;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

/** A bus's invalidation riding in a batch: the keys it names, and its callers. */
interface Announcement {
  readonly keys: Set<string>;
  readonly done: Deferred<void>;
}

interface Batch {
  readonly writes: Write[];
  /** The keys (without prefix) that have a write in this batch. */
  readonly written: Set<string>;
  readonly announced: Map<Announcer, Announcement>;
}

/** The gatherer of each adapter, so that a bus paired with it can announce the writes it carries. */
const gatherers = new WeakMap<object, RedisWriteGatherer>();

/**
 * Puts `announcer`'s invalidation of `keys` into the commands that carry their pending writes of `owner` (an
 * adapter), so that each command writes, then publishes it; resolves once every such command has run. `undefined`,
 * having attached nothing, unless every key has a write waiting to be sent (a write still waiting for the
 * connection is not).
 */
export function announceBehind(
  owner: object,
  keys: readonly string[],
  announcer: Announcer,
): Promise<void> | undefined {
  return gatherers.get(owner)?.announce(keys, announcer);
}

/**
 * Single-key writes (SET and UNLINK). Writes issued within one tick are gathered and sent when the tick ends: per
 * master (one on a standalone or Sentinel server), a lone write as itself and several as one Lua script, where each
 * would otherwise cost a command of its own. A paired bus may attach the invalidation of those writes (see
 * {@link announceBehind}): the script then publishes it after writing, so that a write and its announcement are one
 * command, and no one hears of a write before it took effect. Each key is written exactly as its own command would
 * write it, and each caller hears of its own write: on a Cluster, a write its node no longer serves is sent again,
 * alone, to the master that does (the others of its script were done and are not repeated).
 */
export class RedisWriteGatherer {
  readonly #client: Redis | Cluster;
  readonly #prefix: string;
  #batch: Batch | undefined;
  #scriptRefused = false;

  /** `owner` is the adapter, whose keys are stored under `prefix`: {@link announceBehind} of it reaches this gatherer. */
  constructor(client: Redis | Cluster, owner: object, prefix: string) {
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
    let announcement = batch.announced.get(announcer);
    if (announcement === undefined) {
      announcement = { keys: new Set(), done: deferred<void>() };
      batch.announced.set(announcer, announcement);
    }
    for (const key of keys) announcement.keys.add(key);
    return announcement.done.promise;
  }

  #add(key: string, op: string, text: string, ttl: string): Promise<void> {
    let batch = this.#batch;
    if (batch === undefined) {
      const created: Batch = { writes: [], written: new Set(), announced: new Map() };
      this.#batch = batch = created;
      // After every promise reaction of this tick, so that concurrent writes (and their announcements) join it.
      process.nextTick(() => this.#flush(created));
    }
    const { writes } = batch;
    batch.written.add(key);
    const written = new Promise<void>((resolve, reject) => {
      writes.push({ key, fullKey: this.#prefix + key, op, text, ttl, resolve, reject });
    });
    if (writes.length >= GATHER_LIMIT) this.#flush(batch);
    return written;
  }

  #flush(batch: Batch): void {
    if (this.#batch !== batch) return;
    this.#batch = undefined;
    if (batch.writes.length === 1 && !this.#client.isCluster && !this.#scriptRefused) {
      this.#sendLone(batch);
      return;
    }
    const announced = new Map([...batch.announced].map(([announcer, { keys }]) => [announcer, keys]));
    void this.#sendAll(batch.writes, announced, true).then((failure) => {
      for (const { done } of batch.announced.values()) {
        if (failure === undefined) done.resolve();
        else done.reject(failure);
      }
    });
  }

  /**
   * The common case of a standalone server, one write in the tick (a sequential caller): straight to one command,
   * without the routing and bookkeeping a batch needs.
   */
  #sendLone(batch: Batch): void {
    const write = batch.writes[0]!;
    const client = this.#client as Redis;
    if (batch.announced.size === 0) {
      this.#sendPlain(client, write).then(write.resolve, write.reject);
      return;
    }
    const messages: string[] = [];
    for (const [announcer] of batch.announced)
      for (const message of announcer.messages([write.key], undefined))
        messages.push(announcer.channel, message);
    const announced = [...batch.announced.values()];
    WRITE_ONE.run(client, 1, [write.fullKey, write.op, write.text, write.ttl, ...messages]).then(
      (reply) => {
        // The script ran, so the messages went out, whatever the write met.
        if (reply === 1) write.resolve();
        else write.reject(replyError(reply));
        for (const { done } of announced) done.resolve();
      },
      (error: unknown) => {
        if (!isScriptRefused(error)) {
          write.reject(error);
          for (const { done } of announced) done.reject(error);
          return;
        }
        // Refused before running: the write and then the same messages go as plain commands, now and from then on.
        this.#scriptRefused = true;
        this.#sendOneByOne(client, [write], messages).then(
          () => {
            for (const { done } of announced) done.resolve();
          },
          (failure: unknown) => {
            write.reject(failure);
            for (const { done } of announced) done.reject(failure);
          },
        );
      },
    );
  }

  /**
   * Sends `writes` (one command per master), each with its share of the announcements, and settles every caller.
   * Resolves to the first failure of a command carrying an announcement (`undefined`: every one ran); never
   * rejects. `retry`: writes a master refused as not its own are sent once more, after reloading the slot table,
   * announced by the command that then carries them.
   */
  async #sendAll(
    writes: readonly Write[],
    announced: ReadonlyMap<Announcer, ReadonlySet<string>>,
    retry: boolean,
  ): Promise<unknown> {
    const moved: Write[] = [];
    let failure: unknown;
    try {
      const fullKeys = writes.map((w) => w.fullKey);
      let batches = batchesOf(this.#client, fullKeys);
      if (batches.some((b) => b.node === undefined)) {
        await refreshSlots(this.#client);
        batches = batchesOf(this.#client, fullKeys);
      }
      await Promise.all(
        batches.map(async (batch) => {
          const mine = positionsOf(batch).map((p) => writes[p]!);
          try {
            moved.push(...(await this.#sendTo(batch, mine, announced)));
          } catch (error) {
            if (carriesAnnouncement(mine, announced)) failure ??= error;
            // Refused whole as not this master's (MOVED, a replica now): nothing ran, so it may be sent again.
            if (retry && isRedirection(error)) moved.push(...mine);
            else for (const write of mine) write.reject(error);
          }
        }),
      );
    } catch (error) {
      failure ??= error;
      for (const write of writes) write.reject(error);
    }
    if (moved.length === 0) return failure;
    if (!retry) {
      const error = new Error('the Cluster moved these keys twice while they were written');
      for (const write of moved) write.reject(error);
      return failure ?? error;
    }
    await refreshSlots(this.#client);
    const again = new Map<Announcer, ReadonlySet<string>>();
    for (const [announcer, keys] of announced) {
      const mine = moved.filter((w) => keys.has(w.key)).map((w) => w.key);
      if (mine.length > 0) again.set(announcer, new Set(mine));
    }
    const retried = await this.#sendAll(moved, again, false);
    // A whole command refused as MOVED published nothing: its announcements went with the retry instead.
    return retried ?? (isRedirection(failure) ? undefined : failure);
  }

  /**
   * Sends the writes of one master, with the messages announcing them (on a Cluster, each names only this master's
   * keys, in this master's stream); settles each write that ran or failed there, and returns the ones the master
   * refused as not its own. Rejects when the command as a whole failed.
   */
  async #sendTo(
    batch: MasterBatch,
    writes: readonly Write[],
    announced: ReadonlyMap<Announcer, ReadonlySet<string>>,
  ): Promise<Write[]> {
    const node = batch.node!;
    const stream = this.#client.isCluster ? `${node.options.host}:${node.options.port}` : undefined;
    // Numbered now, as they are written to the connection: each stream's messages leave in the order of their numbers.
    const messages: string[] = [];
    for (const [announcer, keys] of announced) {
      const mine = writes.filter((w) => keys.has(w.key)).map((w) => w.key);
      if (mine.length === 0) continue;
      for (const message of announcer.messages(mine, stream)) messages.push(announcer.channel, message);
    }
    if (writes.length === 1 && messages.length === 0) {
      await this.#sendPlain(node, writes[0]!);
      writes[0]!.resolve();
      return [];
    }
    if (this.#scriptRefused) return this.#sendOneByOne(node, writes, messages);
    let replies: unknown[];
    try {
      replies = await this.#runScript(node, writes, messages);
    } catch (error) {
      if (!isScriptRefused(error)) throw error;
      // Refused before running: nothing was written, so the commands go one by one, now and from then on.
      this.#scriptRefused = true;
      return this.#sendOneByOne(node, writes, messages);
    }
    const moved: Write[] = [];
    for (let i = 0; i < writes.length; i++) {
      const reply = replies[i];
      const write = writes[i]!;
      if (reply === 1) write.resolve();
      else {
        const error = replyError(reply);
        if (isRedirection(error)) moved.push(write);
        else write.reject(error);
      }
    }
    return moved;
  }

  async #runScript(node: Redis, writes: readonly Write[], messages: readonly string[]): Promise<unknown[]> {
    if (writes.length === 1) {
      const { fullKey, op, text, ttl } = writes[0]!;
      return [await WRITE_ONE.run(node, 1, [fullKey, op, text, ttl, ...messages])];
    }
    const args: string[] = [String(writes.length)];
    for (const { fullKey, op, text, ttl } of writes) args.push(fullKey, op, text, ttl);
    for (const message of messages) args.push(message);
    return (await WRITE.run(node, 0, args)) as unknown[];
  }

  /** Without scripts: each write as its own command, then each message; on one connection they run in that order. */
  async #sendOneByOne(node: Redis, writes: readonly Write[], messages: readonly string[]): Promise<Write[]> {
    const moved: Write[] = [];
    const sent: Array<Promise<unknown>> = writes.map((write) =>
      this.#sendPlain(node, write).then(write.resolve, (error: unknown) => {
        if (isRedirection(error)) moved.push(write);
        else write.reject(error);
      }),
    );
    for (let j = 0; j < messages.length; j += 2) sent.push(node.publish(messages[j]!, messages[j + 1]!));
    await Promise.all(sent);
    return moved;
  }

  #sendPlain(node: Redis, { fullKey, op, text, ttl }: Write): Promise<unknown> {
    if (op === 'd') return node.unlink(fullKey);
    return ttl === '' ? node.set(fullKey, text) : node.set(fullKey, text, 'PX', Number(ttl));
  }
}

/** Whether any of `writes` is announced. */
function carriesAnnouncement(
  writes: readonly Write[],
  announced: ReadonlyMap<Announcer, ReadonlySet<string>>,
): boolean {
  for (const keys of announced.values()) for (const write of writes) if (keys.has(write.key)) return true;
  return false;
}

/** The positions (in the caller's list) of a batch's keys. */
function positionsOf(batch: MasterBatch): readonly number[] {
  return batch.groups.length === 1 ? batch.groups[0]!.positions : batch.groups.flatMap((g) => g.positions);
}
