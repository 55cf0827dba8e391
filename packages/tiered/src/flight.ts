import { CacheLoaderTimeoutError, type Entry, type ValueReader } from '@strata-cache/core';
import type { Loader, LoaderContext } from './get-or-set-options.js';

/** What the callers of one `getOrSet` run are answered with: a value, each caller reading its own copy, or none. */
export type Answer =
  | { readonly kind: 'value'; readonly entry: Entry; readonly values: ValueReader }
  | { readonly kind: 'none' };

/** The answer of a run whose loader returned `undefined`. */
export const NO_VALUE: Answer = { kind: 'none' };

/**
 * One run of `getOrSet` for a key in this instance: every concurrent call for the key awaits its answer. The answer
 * may come before the run ends (a stale value after the soft timeout); the run then completes in the background.
 */
export class Flight {
  /** Settles once, with the answer or the run's failure (the same error object for every caller). */
  readonly answer: Promise<Answer>;
  /** The run's ticket of the fill fence: a call that starts after the key changed does not join this run. */
  readonly ticket: number;
  #resolve!: (answer: Answer) => void;
  #reject!: (error: unknown) => void;
  #settled = false;
  #soft: NodeJS.Timeout | undefined;

  constructor(ticket: number) {
    this.ticket = ticket;
    this.answer = new Promise<Answer>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    // A background run has no caller: its failure is reported as an event, never as an unhandled rejection.
    this.answer.catch(() => {});
  }

  /** Whether the callers have been answered. */
  get settled(): boolean {
    return this.#settled;
  }

  /** Answers the callers (once; later answers are ignored). */
  settle(answer: Answer): void {
    if (this.#settled) return;
    this.#settled = true;
    this.end();
    this.#resolve(answer);
  }

  /** Fails the callers with `error` (once). */
  fail(error: unknown): void {
    if (this.#settled) return;
    this.#settled = true;
    this.end();
    this.#reject(error);
  }

  /** Calls `answer` after `ms` unless the callers were answered by then. */
  softTimeout(ms: number, answer: () => void): void {
    this.#soft = setTimeout(() => {
      if (!this.#settled) answer();
    }, ms);
  }

  /** The run ended: no soft timeout fires any more. */
  end(): void {
    if (this.#soft !== undefined) clearTimeout(this.#soft);
    this.#soft = undefined;
  }
}

/**
 * Runs `loader` with `ctx`; with `hardMs`, rejects with `CacheLoaderTimeoutError` after that many ms and aborts
 * `controller` (the loader's `ctx.signal`), leaving the loader's own late outcome observed, never unhandled.
 */
export function runLoader<T>(
  loader: Loader<T>,
  ctx: LoaderContext<T>,
  controller: AbortController,
  hardMs: number | undefined,
): Promise<T> {
  let running: Promise<T>;
  try {
    running = Promise.resolve(loader(ctx));
  } catch (error) {
    return Promise.reject(error);
  }
  if (hardMs === undefined) return running;
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      const error = new CacheLoaderTimeoutError(ctx.key, hardMs);
      controller.abort(error);
      reject(error);
    }, hardMs);
    running.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}
