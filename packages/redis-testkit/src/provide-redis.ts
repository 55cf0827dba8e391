import { existsSync } from 'node:fs';
import { request } from 'node:http';
import { findRedisServerBinary, REDIS_IMAGE, RedisUnavailableError } from './binaries.js';
import { startRedisServer } from './redis-server.js';

/** A standalone Redis for tests, and who owns it. */
export interface ProvidedRedis {
  /** `redis://HOST:PORT` */
  readonly url: string;
  /** `env`: REDIS_URL, not ours; `container`: a Testcontainers container; `binary`: a `redis-server` child process. */
  readonly source: 'env' | 'container' | 'binary';
  /** Stops what was started; for `env` it does nothing, as the server belongs to someone else. */
  stop(): Promise<void>;
}

const DEFAULT_DOCKER_SOCKET = '/var/run/docker.sock';
const DOCKER_PING_TIMEOUT_MS = 1_500;

/**
 * Resolves a standalone Redis, first found wins: `REDIS_URL` (used as is, never started or stopped), a Redis
 * container when a Docker engine answers, a `redis-server` child process when the binary is on PATH. Otherwise it
 * throws a {@link RedisUnavailableError} that says how to get one.
 */
export async function provideRedis(): Promise<ProvidedRedis> {
  const fromEnv = process.env.REDIS_URL;
  if (fromEnv !== undefined && fromEnv !== '') {
    return { url: checkedRedisUrl(fromEnv), source: 'env', stop: async () => {} };
  }

  let dockerProblem: Error | undefined;
  const docker = dockerEndpoint();
  if (docker !== undefined) {
    try {
      await pingDocker(docker);
      return await startRedisContainer();
    } catch (error) {
      dockerProblem = error instanceof Error ? error : new Error(String(error));
    }
  }

  if (findRedisServerBinary() !== undefined) {
    if (dockerProblem !== undefined) {
      // Said out loud: someone who set up Docker for the tests should learn why it was not used.
      process.stderr.write(
        `[redis-testkit] Docker not used (${dockerProblem.message}); starting redis-server\n`,
      );
    }
    const server = await startRedisServer();
    return { url: server.url, source: 'binary', stop: () => server.stop() };
  }

  const dockerPart =
    dockerProblem === undefined
      ? 'no Docker engine was found (DOCKER_HOST unset, no /var/run/docker.sock)'
      : `Docker did not give a Redis container (${dockerProblem.message})`;
  throw new RedisUnavailableError(
    `No Redis for the tests: REDIS_URL is not set, ${dockerPart}, and \`redis-server\` is not on PATH.`,
    dockerProblem === undefined ? undefined : { cause: dockerProblem },
  );
}

function checkedRedisUrl(value: string): string {
  let protocol: string;
  try {
    protocol = new URL(value).protocol;
  } catch {
    throw new Error(`REDIS_URL is not a URL: ${JSON.stringify(value)} (expected redis://HOST:PORT)`);
  }
  if (protocol !== 'redis:' && protocol !== 'rediss:') {
    throw new Error(`REDIS_URL must start with redis:// or rediss://, got ${JSON.stringify(value)}`);
  }
  return value;
}

type DockerEndpoint =
  | { readonly kind: 'socket'; readonly socketPath: string }
  | { readonly kind: 'http'; readonly host: string; readonly port: number }
  | { readonly kind: 'other'; readonly description: string };

/** Where the Docker engine should be, judged from the environment alone: no process, no network. */
function dockerEndpoint(): DockerEndpoint | undefined {
  const dockerHost = process.env.DOCKER_HOST;
  if (dockerHost === undefined || dockerHost === '') {
    return existsSync(DEFAULT_DOCKER_SOCKET)
      ? { kind: 'socket', socketPath: DEFAULT_DOCKER_SOCKET }
      : undefined;
  }
  if (dockerHost.startsWith('unix://'))
    return { kind: 'socket', socketPath: dockerHost.slice('unix://'.length) };
  if (dockerHost.startsWith('tcp://') && process.env.DOCKER_TLS_VERIFY === undefined) {
    const url = new URL(dockerHost.replace(/^tcp:/, 'http:'));
    return { kind: 'http', host: url.hostname, port: Number(url.port || 2375) };
  }
  // TLS, ssh:// and npipe:// need Testcontainers' own client: let it try.
  return { kind: 'other', description: dockerHost };
}

/** GET /_ping answers within a second or so when an engine is up; Testcontainers itself would wait much longer. */
function pingDocker(endpoint: DockerEndpoint): Promise<void> {
  if (endpoint.kind === 'other') return Promise.resolve();
  const where = endpoint.kind === 'socket' ? endpoint.socketPath : `${endpoint.host}:${endpoint.port}`;
  return new Promise((resolve, reject) => {
    const target =
      endpoint.kind === 'socket'
        ? { socketPath: endpoint.socketPath }
        : { host: endpoint.host, port: endpoint.port };
    const req = request(
      { ...target, path: '/_ping', method: 'GET', timeout: DOCKER_PING_TIMEOUT_MS },
      (res) => {
        res.resume();
        if (res.statusCode === 200) resolve();
        else reject(new Error(`the Docker engine at ${where} answered /_ping with HTTP ${res.statusCode}`));
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no Docker engine answered at ${where}`)));
    req.on('error', (error) => reject(new Error(`no Docker engine answered at ${where}: ${error.message}`)));
    req.end();
  });
}

async function startRedisContainer(): Promise<ProvidedRedis> {
  // Loaded only here: Testcontainers is heavy, and most runs never get this far.
  const { RedisContainer } = await import('@testcontainers/redis');
  const container = await new RedisContainer(REDIS_IMAGE).start();
  return {
    url: container.getConnectionUrl(),
    source: 'container',
    stop: async () => {
      await container.stop();
    },
  };
}
