import { CacheUnavailableError, type EntryWrite } from '@strata-cache/core';
import { closedError, toUnavailableError } from '@strata-cache/core/internal';
import type { Cluster, Redis } from 'ioredis';
import type { CallGuard } from './call-guard.js';
import { batchesOf, isRedirection, masterOf, refreshSlots } from './cluster-routing.js';
import { isScriptRefused, LuaScript, replyError } from './lua-script.js';
import { corkForTick } from './tick-cork.js';
import { type Announcer, messagesOf, WRITE_SCRIPT } from './write-gatherer.js';

/** The most keys one command of a batch carries (the keys of one Cluster slot are never split, however many). */
export const COMMAND_KEYS = 1_000;

/** The most characters of values one command carries, so that a command of large values is still quick to send. */
const COMMAND_CHARS = 1 << 20;

/**
 * The commands of one batch in flight per connection. More would only wait in the connection's queue, where their
 * time limit already runs; fewer would leave the connection idle for a round trip between commands.
 */
export const COMMANDS_IN_FLIGHT = 4;

const WRITE = new LuaScript(WRITE_SCRIPT);

/** One item of a batch: its key with the namespace and without, and the entry to store. */
export type BatchItem = readonly [fullKey: string, key: string, entry: EntryWrite];

/** One command's worth of items, for one connection; grouped by slot (a Cluster) or in one group. */
interface Command {
  readonly node: Redis;
  readonly groups: ReadonlyArray<readonly BatchItem[]>;
}

/** What the commands of one call share, on every connection: whether one failed (then no more are sent). */
interface Progress {
  failed: boolean;
}

/**
 * Writes large batches (`setMany`). A batch is split into commands of at most {@link COMMAND_KEYS} keys (and about
 * a megabyte of values), each one run of {@link WRITE_SCRIPT}, which Redis runs atomically. On a Cluster each
 * command goes to the master serving its keys, on that master's own connection, and the keys of one slot always
 * travel together: a batch is atomic per slot. Each connection gets its commands {@link COMMANDS_IN_FLIGHT} at a
 * time, and each command is bounded by the call guard's time limit from when it is sent, so that a large batch is
 * never cut off as a whole, and a command's time is not eaten by a long queue ahead of it. Once a command fails, no
 * other is sent: the call rejects, and what was already sent may still land.
 */
export class RedisBatchWriter {
  readonly #client: Redis | Cluster;
  readonly #guard: CallGuard;
  readonly #stamp: (entry: EntryWrite) => string;
  readonly #isClosed: () => boolean;
  #scriptRefused = false;

  /**
   * `stamp` turns an entry into the text stored for it, as the command carrying it is sent (see the adapter's
   * `valueFormat`); `isClosed` stops a batch whose adapter was closed.
   */
  constructor(
    client: Redis | Cluster,
    guard: CallGuard,
    stamp: (entry: EntryWrite) => string,
    isClosed: () => boolean,
  ) {
    this.#client = client;
    this.#guard = guard;
    this.#stamp = stamp;
    this.#isClosed = isClosed;
  }

  /**
   * Stores every item, each command publishing the invalidation of its keys on `announcer`'s bus when given. On a
   * Cluster, items a master refused as not its own (a stale slot table) are sent once more, after reloading the
   * table. Rejects with a `CacheError` (the first failure).
   */
  async setMany(items: readonly BatchItem[], announcer?: Announcer): Promise<void> {
    try {
      const refused = await this.#sendAll(items, announcer);
      if (refused.length === 0) return;
      await this.#guard.run('setMany', () => refreshSlots(this.#client));
      const again = await this.#sendAll(
        refused.map(({ item }) => item),
        announcer,
      );
      if (again.length > 0) {
        throw new CacheUnavailableError('setMany', 'the Cluster moved keys twice while they were written', {
          cause: again[0]!.error,
        });
      }
    } catch (error) {
      throw toUnavailableError('setMany', error);
    }
  }

  /** Sends `items`, every connection's commands a few at a time; resolves to the items refused as not their node's. */
  async #sendAll(items: readonly BatchItem[], announcer: Announcer | undefined): Promise<Refused[]> {
    const queues = this.#client.isCluster
      ? await this.#guard.run('setMany', () => this.#clusterCommands(items))
      : [runs(this.#client as Redis, items)];
    const progress: Progress = { failed: false };
    const refused: Refused[] = [];
    await Promise.all(queues.map((queue) => this.#drain(queue, announcer, progress, refused)));
    return refused;
  }

  /** The commands of each master: its slots' items, per the client's slot table (reloaded if it lacks a slot). */
  async #clusterCommands(items: readonly BatchItem[]): Promise<Command[][]> {
    const keys = items.map(([key]) => key);
    let batches = batchesOf(this.#client, keys);
    if (batches.some((batch) => batch.node === undefined)) {
      await refreshSlots(this.#client);
      batches = batchesOf(this.#client, keys);
    }
    return batches.map((batch) =>
      packed(
        masterOf(batch),
        batch.groups.map((group) => group.positions.map((p) => items[p]!)),
      ),
    );
  }

  /** Sends one connection's commands, at most {@link COMMANDS_IN_FLIGHT} at a time, until one fails. */
  async #drain(
    queue: readonly Command[],
    announcer: Announcer | undefined,
    progress: Progress,
    refused: Refused[],
  ): Promise<void> {
    let next = 0;
    const sender = async (): Promise<void> => {
      while (next < queue.length && !progress.failed) {
        const command = queue[next++]!;
        try {
          if (this.#isClosed()) throw closedError('setMany');
          const moved = await this.#guard.run(
            'setMany',
            () => this.#send(command, announcer),
            () => corkForTick(command.node),
          );
          for (const item of moved) refused.push(item);
        } catch (error) {
          progress.failed = true;
          throw error;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(COMMANDS_IN_FLIGHT, queue.length) }, sender));
  }

  /** Sends one command; resolves to its items that its node refused as not its own, rejects on any other error. */
  async #send(command: Command, announcer: Announcer | undefined): Promise<Refused[]> {
    const items = command.groups.length === 1 ? command.groups[0]! : command.groups.flat();
    const { node } = command;
    const stream = this.#client.isCluster ? `${node.options.host}:${node.options.port}` : undefined;
    // Numbered now, as they are written to the connection: each stream's messages leave in the order of their numbers.
    const messages =
      announcer === undefined
        ? []
        : messagesOf(
            items.map(([, key]) => ({ key, announcer })),
            stream,
          );
    if (this.#scriptRefused) return this.#sendTransactions(command, messages);
    const args: string[] = [String(items.length)];
    // Stamped now, as the command is sent: a value's expiry is never later than the one Redis gives its key.
    for (const [fullKey, , entry] of items)
      args.push(fullKey, 's', this.#stamp(entry), entry.ttlMs === undefined ? '' : String(entry.ttlMs));
    for (const part of messages) args.push(part);
    let replies: unknown[];
    try {
      replies = (await WRITE.run(node, 0, args)) as unknown[];
    } catch (error) {
      if (isRedirection(error)) return items.map((item) => ({ item, error }));
      if (!isScriptRefused(error)) throw error;
      // Refused before running (no EVAL in the ACL, Redis before 7): transactions, now and from then on.
      this.#scriptRefused = true;
      return this.#sendTransactions(command, messages);
    }
    const moved: Refused[] = [];
    for (let i = 0; i < items.length; i++) {
      if (replies[i] === 1) continue;
      const error = replyError(replies[i]);
      if (!isRedirection(error)) throw error;
      moved.push({ item: items[i]!, error });
    }
    return moved;
  }

  /**
   * Without scripts: one MULTI per group (per slot on a Cluster), pipelined on the command's connection, then the
   * messages announcing them (on one connection, they run in that order).
   */
  async #sendTransactions(command: Command, messages: readonly string[]): Promise<Refused[]> {
    const moved: Refused[] = [];
    const published: Array<Promise<unknown>> = [];
    const written = Promise.all(
      command.groups.map(async (group) => {
        const multi = command.node.multi();
        for (const [fullKey, , entry] of group) {
          if (entry.ttlMs === undefined) multi.set(fullKey, this.#stamp(entry));
          else multi.set(fullKey, this.#stamp(entry), 'PX', entry.ttlMs);
        }
        try {
          const replies = await multi.exec();
          if (replies === null) throw new Error('MULTI was aborted');
          for (const [error] of replies) if (error) throw error;
        } catch (error) {
          // A MULTI sent to a node that no longer serves the slot is discarded whole: its MOVED says why.
          const first = (error as { previousErrors?: unknown[] }).previousErrors?.[0];
          const cause = isRedirection(first) ? first : error;
          if (!isRedirection(cause)) throw cause;
          for (const item of group) moved.push({ item, error: cause });
        }
      }),
    );
    for (let j = 0; j < messages.length; j += 2)
      published.push(command.node.publish(messages[j]!, messages[j + 1]!));
    await Promise.all([written, ...published]);
    return moved;
  }
}

/** An item a node refused as not its own, and its reply. */
interface Refused {
  readonly item: BatchItem;
  readonly error: unknown;
}

/**
 * A standalone server's commands: runs of consecutive items, of at most {@link COMMAND_KEYS} keys and
 * {@link COMMAND_CHARS} characters of values.
 */
function runs(node: Redis, items: readonly BatchItem[]): Command[] {
  const commands: Command[] = [];
  let start = 0;
  let chars = 0;
  for (let i = 0; i < items.length; i++) {
    const size = items[i]![2].text.length;
    if (i > start && (i - start === COMMAND_KEYS || chars + size > COMMAND_CHARS)) {
      commands.push({ node, groups: [items.slice(start, i)] });
      start = i;
      chars = 0;
    }
    chars += size;
  }
  commands.push({ node, groups: [start === 0 ? items : items.slice(start)] });
  return commands;
}

/**
 * A Cluster master's commands: its slots' groups, packed into commands of at most {@link COMMAND_KEYS} keys and
 * {@link COMMAND_CHARS} characters of values. A group (a slot's keys) is never split: a larger one is a command of
 * its own.
 */
function packed(node: Redis, groups: ReadonlyArray<readonly BatchItem[]>): Command[] {
  const commands: Command[] = [];
  let current: Array<readonly BatchItem[]> = [];
  let keys = 0;
  let chars = 0;
  for (const group of groups) {
    let size = 0;
    for (const [, , entry] of group) size += entry.text.length;
    if (keys > 0 && (keys + group.length > COMMAND_KEYS || chars + size > COMMAND_CHARS)) {
      commands.push({ node, groups: current });
      current = [];
      keys = 0;
      chars = 0;
    }
    current.push(group);
    keys += group.length;
    chars += size;
  }
  if (keys > 0) commands.push({ node, groups: current });
  return commands;
}
