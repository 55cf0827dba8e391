import type { Cluster, Redis } from 'ioredis';
import type { CallGuard } from './call-guard.js';
import { withRedirects } from './cluster-routing.js';
import { LuaScript } from './lua-script.js';

/**
 * Reads (ARGV[1] = 'r') or bumps (ARGV[1] = 'b') the tag counters named in ARGV[2..]; answers their versions, in
 * order. A counter that does not exist (never used, or evicted) starts at the server's time in microseconds, so
 * that one lost to eviction starts again above every version it had: entries written before are never valid again.
 * Keys come as arguments: on a Cluster they may be of several slots of this master.
 */
const TAGS = new LuaScript(`#!lua flags=allow-cross-slot-keys
local bump = ARGV[1] == 'b'
local out = {}
for i = 2, #ARGV do
  local key = ARGV[i]
  local version = redis.call('GET', key)
  if not version then
    local time = redis.call('TIME')
    version = time[1] .. string.rep('0', 6 - #time[2]) .. time[2]
    redis.call('SET', key, version)
  end
  if bump then version = redis.call('INCR', key) end
  out[i - 1] = version
end
return out`);

/**
 * Tags' version counters in Redis, one key per tag, `<namespace>#tag#<tag, URI-encoded>`: outside every namespace's
 * keys (a stored key always has a `:` after its namespace; this one has none), so that no key a cache writes, and no
 * pattern or `clear`, ever touches a counter. On a Cluster the counters spread over the masters; each master is
 * asked once per call.
 */
export class RedisTagCounters {
  readonly #client: Redis | Cluster;
  readonly #guard: CallGuard;
  readonly #prefix: string;

  constructor(client: Redis | Cluster, guard: CallGuard, namespace: string) {
    this.#client = client;
    this.#guard = guard;
    this.#prefix = `${namespace}#tag#`;
  }

  /** The Redis key of `tag`'s counter. */
  keyOf(tag: string): string {
    return this.#prefix + encodeURIComponent(tag);
  }

  /** The current versions of `tags`, in order. */
  versions(tags: readonly string[]): Promise<number[]> {
    return this.#run('tagVersions', 'r', tags);
  }

  /** Raises each tag's version by one; resolves to the new versions. */
  bump(tags: readonly string[]): Promise<number[]> {
    return this.#run('bumpTags', 'b', tags);
  }

  async #run(operation: string, mode: 'r' | 'b', tags: readonly string[]): Promise<number[]> {
    if (tags.length === 0) return [];
    const keys = tags.map((tag) => this.keyOf(tag));
    return this.#guard.run(operation, () =>
      withRedirects(this.#client, keys, async (batches) => {
        const versions = new Array<number>(tags.length);
        await Promise.all(
          batches.map(async (batch) => {
            const node = batch.node ?? (this.#client as Redis);
            const positions = batch.groups.flatMap((group) => group.positions);
            const reply = (await TAGS.run(node, 0, [mode, ...positions.map((p) => keys[p]!)])) as unknown[];
            for (const [i, position] of positions.entries()) versions[position] = Number(reply[i]);
          }),
        );
        return versions;
      }),
    );
  }
}
