import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Envelope, Replies, ReplyEnvelope, Request } from './instance-protocol.js';

const INSTANCE_SCRIPT = fileURLToPath(new URL('./redis-instance.ts', import.meta.url));
const READY_TIMEOUT_MS = 30_000;
const CALL_TIMEOUT_MS = 10_000;
const EXIT_TIMEOUT_MS = 5_000;

/** A demo instance running in a Node process of its own, driven over IPC. */
export class InstanceProcess {
  readonly name: string;
  readonly #child: ChildProcess;
  readonly #pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  readonly #exited: Promise<void>;
  #nextId = 1;

  private constructor(name: string, child: ChildProcess) {
    this.name = name;
    this.#child = child;
    this.#exited = new Promise((resolve) => child.once('exit', () => resolve()));
    child.on('message', (message: ReplyEnvelope) => {
      const pending = this.#pending.get(message.id);
      if (pending === undefined) return;
      this.#pending.delete(message.id);
      if (message.ok) pending.resolve(message.result);
      else pending.reject(new Error(`${name}: ${message.error}`));
    });
    child.once('exit', (code, signal) => {
      for (const { reject } of this.#pending.values()) {
        reject(new Error(`${name} exited (${signal ?? code}) with a call pending`));
      }
      this.#pending.clear();
    });
  }

  /**
   * Starts the instance (with this process's loader flags, so TypeScript sources run as they do here) and resolves
   * once its cache is subscribed to the bus.
   */
  static async start(name: string, env: Record<string, string>): Promise<InstanceProcess> {
    const child = fork(INSTANCE_SCRIPT, [name], {
      execArgv: process.execArgv,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const instance = new InstanceProcess(name, child);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`${name} not ready after ${READY_TIMEOUT_MS} ms`)),
        READY_TIMEOUT_MS,
      );
      child.once('message', () => {
        clearTimeout(timer);
        resolve();
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`${name} exited with code ${code} before it was ready`));
      });
    });
    return instance;
  }

  get pid(): number {
    return this.#child.pid ?? -1;
  }

  /** Sends `request` and resolves with the instance's reply. */
  call<R extends Request>(request: R): Promise<Replies[R['op']]> {
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new Error(`${this.name}: no reply to ${request.op} within ${CALL_TIMEOUT_MS} ms`));
      }, CALL_TIMEOUT_MS);
      this.#pending.set(id, {
        resolve: (value) => {
          clearTimeout(timer);
          resolve(value as Replies[R['op']]);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
      const envelope: Envelope = { ...request, id };
      this.#child.send(envelope);
    });
  }

  /** Asks the instance to close its cache and exit; kills it if it has not exited within a few seconds. */
  async stop(clear: boolean): Promise<void> {
    if (this.#child.exitCode !== null || this.#child.signalCode !== null) return;
    try {
      await this.call({ op: 'close', clear });
    } catch {
      // It is killed below either way.
    }
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), EXIT_TIMEOUT_MS);
    await this.#exited;
    clearTimeout(timer);
  }

  /** Kills the process at once (after a failure elsewhere). */
  async kill(): Promise<void> {
    if (this.#child.exitCode !== null || this.#child.signalCode !== null) return;
    this.#child.kill('SIGKILL');
    await this.#exited;
  }
}
