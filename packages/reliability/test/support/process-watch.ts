/** What escaped while a {@link ProcessWatch} was on. */
export interface ProcessWatch {
  readonly unhandledRejections: unknown[];
  readonly uncaughtExceptions: unknown[];
  /** ioredis prints `[ioredis] Unhandled error event` when a client it made emits `error` with no listener. */
  readonly ioredisUnhandledErrors: string[];
  /** Removes the listeners and restores `console.error`. */
  stop(): void;
}

/**
 * Installs `unhandledRejection` and `uncaughtException` listeners on this process and watches `console.error` for
 * ioredis' unhandled-error-event message. Vitest's own handlers still see everything (and fail the run); these
 * listeners only count, so that a test can assert and print the figures.
 */
export function watchProcess(): ProcessWatch {
  const unhandledRejections: unknown[] = [];
  const uncaughtExceptions: unknown[] = [];
  const ioredisUnhandledErrors: string[] = [];
  const onRejection = (reason: unknown): void => {
    unhandledRejections.push(reason);
  };
  const onException = (error: unknown): void => {
    uncaughtExceptions.push(error);
  };
  process.on('unhandledRejection', onRejection);
  process.on('uncaughtException', onException);
  const originalError = console.error;
  console.error = (...args: unknown[]) => {
    const text = args.map(String).join(' ');
    if (text.includes('[ioredis] Unhandled error event')) ioredisUnhandledErrors.push(text);
    originalError.apply(console, args);
  };
  return {
    unhandledRejections,
    uncaughtExceptions,
    ioredisUnhandledErrors,
    stop() {
      process.off('unhandledRejection', onRejection);
      process.off('uncaughtException', onException);
      console.error = originalError;
    },
  };
}
