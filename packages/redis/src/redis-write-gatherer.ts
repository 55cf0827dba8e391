import type { Redis } from 'ioredis';
import { type Deferred, deferred } from './deferred.js';
import { isScriptRefused, LuaScript } from './lua-script.js';

/** SET of every key (KEYS) to its text, with PX when its TTL is not empty (ARGV: text, ttl, text, ttl, …). */
const WRITE_SCRIPT = `#!lua
for i = 1, #KEYS do
  local ttl = ARGV[2 * i]
  if ttl == '' then
    redis.call('SET', KEYS[i], ARGV[2 * i - 1])
  else
    redis.call('SET', KEYS[i], ARGV[2 * i - 1], 'PX', ttl)
  end
end
return #KEYS`;

const WRITE = new LuaScript(WRITE_SCRIPT);

/** The most writes one script call carries. */
const GATHER_LIMIT = 256;

interface Gathered {
  readonly args: string[];
  readonly keys: string[];
  readonly written: Deferred<void>;
}

/** The gatherer of each adapter, so that the bus publishing behind its writes can send them first. */
const gatherers = new WeakMap<object, RedisWriteGatherer>();

/** Sends the writes `owner` has gathered but not sent yet, now: whatever is written next on its connection follows them. */
export function flushGatheredWrites(owner: object): void {
  gatherers.get(owner)?.flush();
}

/**
 * Single-key SETs on a standalone (or Sentinel) server. The first SET of a tick is sent at once; the others issued
 * in the same tick (64 concurrent writes, say) are gathered and sent when the tick ends as one Lua script: one
 * command and one reply where each write would otherwise cost its own. Each key is still written exactly as its SET
 * would write it; a script failing part-way fails every write it carried (their effect is then unknown, as for a
 * timeout). Not used on a Cluster, where a script refused for a key its node no longer serves could not be retried
 * without risking an older value over a newer one.
 */
export class RedisWriteGatherer {
  readonly #client: Redis;
  #writtenThisTick = false;
  #gathered: Gathered | undefined;
  #scriptRefused = false;

  /** `owner` is the adapter: {@link flushGatheredWrites} of it flushes this gatherer. */
  constructor(client: Redis, owner: object) {
    this.#client = client;
    gatherers.set(owner, this);
  }

  /** Stores `text` under `fullKey` for `ttlMs` (none: no expiry), alone or with the other writes of this tick. */
  set(fullKey: string, text: string, ttlMs: number | undefined): Promise<unknown> {
    if (!this.#writtenThisTick || this.#scriptRefused) {
      if (!this.#writtenThisTick) {
        this.#writtenThisTick = true;
        process.nextTick(() => {
          this.#writtenThisTick = false;
        });
      }
      return ttlMs === undefined
        ? this.#client.set(fullKey, text)
        : this.#client.set(fullKey, text, 'PX', ttlMs);
    }
    let gathered = this.#gathered;
    if (gathered === undefined) {
      gathered = this.#gathered = { args: [], keys: [], written: deferred<void>() };
      process.nextTick(() => this.flush());
    }
    gathered.keys.push(fullKey);
    gathered.args.push(text, ttlMs === undefined ? '' : String(ttlMs));
    const { promise } = gathered.written;
    if (gathered.keys.length >= GATHER_LIMIT) this.flush();
    return promise;
  }

  /** Sends the gathered writes, if any, now. */
  flush(): void {
    const gathered = this.#gathered;
    if (gathered === undefined) return;
    this.#gathered = undefined;
    this.#send(gathered).then(gathered.written.resolve, gathered.written.reject);
  }

  async #send({ keys, args }: Gathered): Promise<void> {
    try {
      await WRITE.run(this.#client, keys.length, [...keys, ...args]);
    } catch (error) {
      if (!isScriptRefused(error)) throw error;
      // Refused before running: nothing was written, so each write is sent on its own, now and from then on.
      this.#scriptRefused = true;
      await Promise.all(
        keys.map((key, i) => {
          const ttl = args[2 * i + 1]!;
          return ttl === ''
            ? this.#client.set(key, args[2 * i]!)
            : this.#client.set(key, args[2 * i]!, 'PX', Number(ttl));
        }),
      );
    }
  }
}
