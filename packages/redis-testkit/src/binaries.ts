import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';

/** The Redis image a container-backed Redis runs; it matches the Debian binaries CI installs. */
export const REDIS_IMAGE = 'redis:7.0.15';

const HOW_TO_GET_REDIS = [
  'To get one, do any of:',
  '  - install Redis so `redis-server` and `redis-cli` are on PATH: Debian/Ubuntu `sudo apt-get install redis-server`' +
    ' (it brings redis-cli via redis-tools), macOS `brew install redis`;',
  '  - set REDIS_URL=redis://HOST:PORT to a Redis you own (standalone tests only, and they write keys to it);',
  `  - run a Docker engine (DOCKER_HOST or /var/run/docker.sock): standalone Redis then runs in a ${REDIS_IMAGE}` +
    ' container.',
  'The Cluster and Sentinel fixtures always need the redis-server and redis-cli binaries.',
].join('\n');

/** Thrown when no Redis can be had; its message says how to get one. */
export class RedisUnavailableError extends Error {
  override readonly name: string = 'RedisUnavailableError';
  /** What was looked for and not found, without the how-to. */
  readonly reason: string;

  /** @param reason what was looked for and not found, as one sentence. */
  constructor(reason: string, options?: ErrorOptions) {
    super(`${reason}\n${HOW_TO_GET_REDIS}`, options);
    this.reason = reason;
  }
}

/** Finds an executable on PATH the way a shell would, without spawning one. */
export function findExecutable(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      if (statSync(candidate).isFile()) return candidate;
    } catch {
      // Not here (or not executable): keep looking, as a shell would.
    }
  }
  return undefined;
}

/** The absolute path of `redis-server` on PATH, or undefined when it is not installed. */
export function findRedisServerBinary(): string | undefined {
  return findExecutable('redis-server');
}

/** The absolute path of `redis-cli` on PATH, or undefined when it is not installed. */
export function findRedisCliBinary(): string | undefined {
  return findExecutable('redis-cli');
}

/** Like {@link findExecutable}, but throws a {@link RedisUnavailableError} naming `purpose` when it is missing. */
export function requireRedisBinary(name: 'redis-server' | 'redis-cli', purpose: string): string {
  const found = findExecutable(name);
  if (found === undefined) {
    throw new RedisUnavailableError(`\`${name}\` is not on PATH, and ${purpose} needs it.`);
  }
  return found;
}
