import { TickBatcher } from '@strata-cache/core/internal';
import type { Cluster, Redis } from 'ioredis';
import { batchesOf, isRedirection, type MasterBatch, refreshSlots } from './cluster-routing.js';
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

/** How a bus announces writes: messages naming the keys, built when they are sent (it numbers them). */
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
  /** The bus announcing this write in the command that carries it, if any. */
  readonly announcer: Announcer | undefined;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

/**
 * Single-key writes (SET and UNLINK). Writes issued within one tick are gathered and sent when the tick ends: per
 * master (one on a standalone or Sentinel server), a lone write as itself and several as one Lua script, where each
 * would otherwise cost a command of its own. A write may name a bus to announce it: the command carrying it then
 * publishes its invalidation after writing, so that a write and its announcement are one command, and no one hears
 * of a write before it took effect. Each key is written exactly as its own command would write it, and each caller
 * hears of its own write: on a Cluster, a write its node no longer serves is sent again, alone, to the master that
 * does (the others of its script were done and are not repeated), and announced by that command.
 */
export class RedisWriteGatherer {
  readonly #client: Redis | Cluster;
  readonly #prefix: string;
  readonly #gatherer: TickBatcher<Write[]>;
  #scriptRefused = false;

  /** Keys are stored under `prefix`. */
  constructor(client: Redis | Cluster, prefix: string) {
    this.#client = client;
    this.#prefix = prefix;
    this.#gatherer = new TickBatcher<Write[]>(
      () => [],
      (writes) => this.#flush(writes),
      (writes) => writes.length >= GATHER_LIMIT,
    );
  }

  /** Stores `text` under `key` for `ttlMs` (none: no expiry), with the other writes of this tick. */
  set(key: string, text: string, ttlMs: number | undefined, announcer?: Announcer): Promise<void> {
    return this.#add(key, 's', text, ttlMs === undefined ? '' : String(ttlMs), announcer);
  }

  /** Removes `key` (UNLINK), with the other writes of this tick. */
  delete(key: string, announcer?: Announcer): Promise<void> {
    return this.#add(key, 'd', '', '', announcer);
  }

  #add(key: string, op: string, text: string, ttl: string, announcer: Announcer | undefined): Promise<void> {
    const writes = this.#gatherer.current();
    const written = new Promise<void>((resolve, reject) => {
      writes.push({ key, fullKey: this.#prefix + key, op, text, ttl, announcer, resolve, reject });
    });
    this.#gatherer.sendIfFull();
    return written;
  }

  #flush(writes: Write[]): void {
    if (writes.length === 1 && !this.#client.isCluster && !this.#scriptRefused) this.#sendLone(writes[0]!);
    else void this.#sendAll(writes, true);
  }

  /**
   * The common case of a standalone server, one write in the tick (a sequential caller): straight to one command,
   * without the routing and bookkeeping a batch needs.
   */
  #sendLone(write: Write): void {
    const client = this.#client as Redis;
    if (write.announcer === undefined) {
      this.#sendPlain(client, write).then(write.resolve, write.reject);
      return;
    }
    const messages = messagesOf([write], undefined);
    WRITE_ONE.run(client, 1, [write.fullKey, write.op, write.text, write.ttl, ...messages]).then(
      (reply) => {
        // The script ran, so the messages went out, whatever the write met.
        if (reply === 1) write.resolve();
        else write.reject(replyError(reply));
      },
      (error: unknown) => {
        if (!isScriptRefused(error)) {
          write.reject(error);
          return;
        }
        // Refused before running: the write and then the same messages go as plain commands, now and from then on.
        this.#scriptRefused = true;
        this.#sendOneByOne(client, [write], messages).catch(write.reject);
      },
    );
  }

  /**
   * Sends `writes` (one command per master), each with the messages announcing its writes, and settles every
   * caller; never rejects. `retry`: writes a master refused as not its own are sent once more, after reloading the
   * slot table, announced by the command that then carries them.
   */
  async #sendAll(writes: readonly Write[], retry: boolean): Promise<void> {
    const moved: Write[] = [];
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
            moved.push(...(await this.#sendTo(batch, mine)));
          } catch (error) {
            // Refused whole as not this master's (MOVED, a replica now): nothing ran, so it may be sent again.
            if (retry && isRedirection(error)) moved.push(...mine);
            else for (const write of mine) write.reject(error);
          }
        }),
      );
    } catch (error) {
      for (const write of writes) write.reject(error);
    }
    if (moved.length === 0) return;
    if (!retry) {
      const error = new Error('the Cluster moved these keys twice while they were written');
      for (const write of moved) write.reject(error);
      return;
    }
    await refreshSlots(this.#client);
    await this.#sendAll(moved, false);
  }

  /**
   * Sends the writes of one master, with the messages announcing them (on a Cluster, each names only this master's
   * keys, in this master's stream); settles each write that ran or failed there, and returns the ones the master
   * refused as not its own. Rejects when the command as a whole failed.
   */
  async #sendTo(batch: MasterBatch, writes: readonly Write[]): Promise<Write[]> {
    const node = batch.node!;
    const stream = this.#client.isCluster ? `${node.options.host}:${node.options.port}` : undefined;
    // Numbered now, as they are written to the connection: each stream's messages leave in the order of their numbers.
    const messages = messagesOf(writes, stream);
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

/**
 * The channel and message pairs announcing `writes` in `stream`: one message (or several, when too large) per bus,
 * naming the keys it announces.
 */
export function messagesOf(
  writes: ReadonlyArray<{ key: string; announcer?: Announcer | undefined }>,
  stream: string | undefined,
): string[] {
  const byAnnouncer = new Map<Announcer, string[]>();
  for (const { key, announcer } of writes) {
    if (announcer === undefined) continue;
    const keys = byAnnouncer.get(announcer);
    if (keys === undefined) byAnnouncer.set(announcer, [key]);
    else keys.push(key);
  }
  const pairs: string[] = [];
  for (const [announcer, keys] of byAnnouncer)
    for (const message of announcer.messages(keys, stream)) pairs.push(announcer.channel, message);
  return pairs;
}

/** The positions (in the caller's list) of a batch's keys. */
function positionsOf(batch: MasterBatch): readonly number[] {
  return batch.groups.length === 1 ? batch.groups[0]!.positions : batch.groups.flatMap((g) => g.positions);
}
