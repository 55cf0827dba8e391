import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, fstatSync, openSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireRedisBinary } from './binaries.js';
import { installExitHook, liveChildren, ownedDirs } from './cleanup.js';
import { CLUSTER_BUS_OFFSET, listenOn, pickFreePort } from './ports.js';
import { redisCommand, redisInfo } from './resp.js';
import { sleep } from './wait.js';

export { findRedisServerBinary } from './binaries.js';

/** Options of {@link startRedisServer}. */
export interface RedisServerOptions {
  /** Port to listen on. By default a free one is picked, and picked again if another process takes it first. */
  readonly port?: number | undefined;
  /** More `redis-server` arguments (`['--maxmemory', '10mb']`); they come last, so they override the defaults. */
  readonly extraArgs?: readonly string[] | undefined;
  /** Start a Cluster node: its bus port (`port + 10000`) must be free too. */
  readonly cluster?: boolean | undefined;
  /** Start a Sentinel: `config` is then required, as Sentinel refuses to run without a writable config file. */
  readonly sentinel?: boolean | undefined;
  /** Lines of a config file written into the server's own dir and passed as the first argument. */
  readonly config?: readonly string[] | undefined;
  /** How long start and restart wait for the server to answer PING. Default 10 000 ms. */
  readonly startTimeoutMs?: number | undefined;
}

/** A `redis-server` child process that this process started and owns. */
export interface RedisServerHandle {
  /** Always `127.0.0.1`: the server listens on loopback only. */
  readonly host: string;
  readonly port: number;
  /** `redis://127.0.0.1:PORT` */
  readonly url: string;
  /** The process id of the current (or last) process; it changes on {@link RedisServerHandle.restart}. */
  readonly pid: number;
  /** Whether the process is alive (a paused one is alive). */
  readonly running: boolean;
  /** The server's own temporary working dir (nodes.conf, the config file, the log). */
  readonly dir: string;
  readonly logFile: string;
  /** SIGTERM, then SIGKILL after a grace period; waits for the exit and removes the dir. Idempotent. */
  stop(): Promise<void>;
  /** SIGKILL and wait for the exit, keeping the dir so that {@link RedisServerHandle.restart} can follow. */
  kill(): Promise<void>;
  /** Starts the server again on the same port and dir (stopping it first if alive) and waits for PING. */
  restart(): Promise<void>;
  /** SIGSTOP: the process freezes with its sockets open, as a hung server would. */
  pause(): void;
  /** SIGCONT after {@link RedisServerHandle.pause}. */
  resume(): void;
}

const HOST = '127.0.0.1';
const STOP_GRACE_MS = 5_000;
const PORT_ATTEMPTS = 5;
const LOG_TAIL_LINES = 25;
/**
 * nodes.conf lives in the server's own dir, so that a restarted node comes back as the same node; the node timeout
 * (Redis' default: 15 s) is what a failover waits before it starts.
 */
const CLUSTER_ARGS = [
  '--cluster-enabled',
  'yes',
  '--cluster-config-file',
  'nodes.conf',
  '--cluster-node-timeout',
  '1000',
];

/** Thrown when the port was taken between picking it and the server binding it. */
class PortInUseError extends Error {
  override readonly name: string = 'PortInUseError';
}

/**
 * Starts `redis-server` on loopback, without persistence, in a temp dir of its own, and resolves once it answers
 * PING. The process is killed when this Node process exits, should nobody call `stop()`.
 */
export async function startRedisServer(options: RedisServerOptions = {}): Promise<RedisServerHandle> {
  const binary = requireRedisBinary('redis-server', 'startRedisServer()');
  if (options.sentinel && options.config === undefined) {
    throw new Error(
      'startRedisServer({ sentinel: true }) needs `config` lines: Sentinel requires a config file',
    );
  }
  installExitHook();
  const dir = await mkdtemp(join(tmpdir(), 'strata-redis-'));
  ownedDirs.add(dir);
  try {
    if (options.config !== undefined) {
      await writeFile(join(dir, 'redis.conf'), `${options.config.join('\n')}\n`);
    }
    for (let attempt = 1; ; attempt++) {
      const port = options.port ?? (await pickFreePort(options.cluster === true));
      const server = new RedisServer(binary, dir, port, options);
      try {
        await server.start();
        return server;
      } catch (error) {
        // Only a port we picked ourselves may be swapped for another; a port the caller asked for is final.
        const retry =
          error instanceof PortInUseError && options.port === undefined && attempt < PORT_ATTEMPTS;
        if (!retry) throw error;
      }
    }
  } catch (error) {
    ownedDirs.delete(dir);
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}

class RedisServer implements RedisServerHandle {
  readonly host: string = HOST;
  readonly port: number;
  readonly url: string;
  readonly dir: string;
  readonly logFile: string;
  readonly #binary: string;
  readonly #args: readonly string[];
  readonly #cluster: boolean;
  readonly #startTimeoutMs: number;
  #child: ChildProcess | undefined;
  #alive = false;
  #exited: Promise<void> = Promise.resolve();
  #howItExited = 'not started';
  #paused = false;
  #removed = false;
  /** Where this run's lines begin in the log, which earlier runs (restarts, port retries) share. */
  #logOffset = 0;

  constructor(binary: string, dir: string, port: number, options: RedisServerOptions) {
    this.port = port;
    this.url = `redis://${HOST}:${port}`;
    this.dir = dir;
    this.logFile = join(dir, 'redis.log');
    this.#binary = binary;
    this.#cluster = options.cluster === true;
    this.#startTimeoutMs = options.startTimeoutMs ?? 10_000;
    this.#args = [
      ...(options.config === undefined ? [] : [join(dir, 'redis.conf')]),
      ...(options.sentinel ? ['--sentinel'] : []),
      ...['--port', String(port), '--bind', HOST, '--dir', dir, '--logfile', this.logFile],
      ...['--save', '', '--appendonly', 'no'],
      // Redis 7 otherwise holds a replica's first sync back 5 s, hoping more replicas join the same transfer.
      ...(options.sentinel ? [] : ['--repl-diskless-sync-delay', '0']),
      ...(this.#cluster ? CLUSTER_ARGS : []),
      ...(options.extraArgs ?? []),
    ];
  }

  get pid(): number {
    return this.#child?.pid ?? 0;
  }

  get running(): boolean {
    return this.#alive;
  }

  async start(): Promise<void> {
    if (this.#removed) {
      throw new Error(`redis-server on ${HOST}:${this.port} was stopped and its dir removed`);
    }
    // Checking first keeps us from ever probing someone else's server that already holds the port.
    const ports = this.#cluster ? [this.port, this.port + CLUSTER_BUS_OFFSET] : [this.port];
    for (const port of ports) {
      if ((await listenOn(port)) === undefined) {
        throw new PortInUseError(`cannot start redis-server: ${HOST}:${port} is in use by another process`);
      }
    }
    this.#spawn();
    try {
      await this.#waitUntilReady();
    } catch (error) {
      await this.#terminate('SIGKILL');
      throw error;
    }
  }

  async stop(): Promise<void> {
    await this.#terminate('SIGTERM');
    if (this.#removed) return;
    this.#removed = true;
    ownedDirs.delete(this.dir);
    await rm(this.dir, { recursive: true, force: true });
  }

  async kill(): Promise<void> {
    await this.#terminate('SIGKILL');
  }

  async restart(): Promise<void> {
    await this.#terminate('SIGTERM');
    await this.start();
  }

  pause(): void {
    this.#signalAlive('SIGSTOP', 'pause');
    this.#paused = true;
  }

  resume(): void {
    this.#signalAlive('SIGCONT', 'resume');
    this.#paused = false;
  }

  #signalAlive(signal: NodeJS.Signals, what: string): void {
    if (!this.#alive || this.#child === undefined) {
      throw new Error(`cannot ${what} redis-server on ${HOST}:${this.port}: it is not running`);
    }
    this.#child.kill(signal);
  }

  #spawn(): void {
    // The log file doubles as stdout/stderr: fatal config errors are printed before Redis opens its log.
    const logFd = openSync(this.logFile, 'a');
    this.#logOffset = fstatSync(logFd).size;
    let child: ChildProcess;
    try {
      child = spawn(this.#binary, this.#args, { cwd: this.dir, stdio: ['ignore', logFd, logFd] });
    } finally {
      closeSync(logFd);
    }
    this.#child = child;
    this.#alive = true;
    this.#paused = false;
    this.#howItExited = 'still running';
    liveChildren.add(child);
    // Unreferenced, a forgotten server cannot keep the test process alive; the exit hook then kills it.
    child.unref();
    this.#exited = new Promise<void>((resolve) => {
      const onGone = (description: string): void => {
        this.#alive = false;
        this.#howItExited = description;
        liveChildren.delete(child);
        resolve();
      };
      child.once('exit', (code, signal) =>
        onGone(signal ? `was killed by ${signal}` : `exited with code ${code}`),
      );
      child.on('error', (error) => {
        if (child.pid === undefined) onGone(`could not be spawned (${error.message})`);
      });
    });
  }

  async #waitUntilReady(): Promise<void> {
    const deadline = Date.now() + this.#startTimeoutMs;
    let lastProblem = 'no answer yet';
    while (Date.now() < deadline) {
      if (!this.#alive) {
        const log = await readLogTail(this.logFile);
        const message = `redis-server on ${HOST}:${this.port} ${this.#howItExited} during startup${log}`;
        const thisRun = await readLogSince(this.logFile, this.#logOffset);
        throw thisRun.includes('Address already in use') ? new PortInUseError(message) : new Error(message);
      }
      try {
        // The process id proves that the answer comes from our process, not from one that grabbed the port.
        const info = await redisInfo(HOST, this.port, 'server', 500);
        if (info.get('process_id') !== String(this.pid)) {
          lastProblem = `port ${this.port} is answered by process ${info.get('process_id')}, not ${this.pid}`;
        } else {
          const pong = await redisCommand(HOST, this.port, ['PING'], 500);
          if (pong === 'PONG') return;
          lastProblem = `PING answered ${JSON.stringify(pong)}`;
        }
      } catch (error) {
        lastProblem = error instanceof Error ? error.message : String(error);
      }
      await sleep(25);
    }
    const log = await readLogTail(this.logFile);
    throw new Error(
      `redis-server on ${HOST}:${this.port} did not answer PING within ${this.#startTimeoutMs} ms ` +
        `(last: ${lastProblem})${log}`,
    );
  }

  async #terminate(signal: 'SIGTERM' | 'SIGKILL'): Promise<void> {
    const child = this.#child;
    if (child === undefined || !this.#alive) return;
    // Waiting for the exit must keep Node alive, or a script's last `await stop()` could end the process first.
    child.ref();
    child.kill(signal);
    // A stopped process acts on SIGTERM only once continued (SIGKILL needs no help).
    if (this.#paused) child.kill('SIGCONT');
    this.#paused = false;
    if (signal === 'SIGTERM' && !(await settlesWithin(this.#exited, STOP_GRACE_MS))) child.kill('SIGKILL');
    await this.#exited;
  }
}

/** Resolves true if `promise` settles within `ms`, false otherwise; the timer never outlives the wait. */
async function settlesWithin(promise: Promise<void>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([promise.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function readLogTail(logFile: string): Promise<string> {
  try {
    const lines = (await readFile(logFile, 'utf8')).trimEnd().split('\n').slice(-LOG_TAIL_LINES);
    return `\n--- last ${lines.length} lines of ${logFile} ---\n${lines.join('\n')}`;
  } catch {
    return `\n(no log at ${logFile})`;
  }
}

async function readLogSince(logFile: string, offset: number): Promise<string> {
  try {
    return (await readFile(logFile)).subarray(offset).toString('utf8');
  } catch {
    return '';
  }
}
