/**
 * Stable codes carried by every {@link CacheError}; callers may test `err.code` instead of `instanceof`
 * (which survives bundling two copies of this package).
 */
export type CacheErrorCode =
  | 'CACHE_ERROR'
  | 'CACHE_INVALID_KEY'
  | 'CACHE_INVALID_TTL'
  | 'CACHE_INVALID_PATTERN'
  | 'CACHE_INVALID_ARGUMENT'
  | 'CACHE_VALUE_TOO_LARGE'
  | 'CACHE_SERIALIZATION'
  | 'CACHE_UNAVAILABLE'
  | 'CACHE_CLOSED'
  | 'CACHE_UNSUPPORTED'
  | 'CACHE_MALFORMED_MESSAGE';

/** Options shared by every {@link CacheError} constructor. */
export interface CacheErrorOptions {
  /** The underlying error, if any. */
  cause?: unknown;
}

/** Base class of every error a Strata cache rejects with. */
export class CacheError extends Error {
  /** The class name, kept literal so it survives minifying. */
  override name = 'CacheError';
  /** A stable machine-readable code. */
  readonly code: CacheErrorCode;

  constructor(message: string, code: CacheErrorCode = 'CACHE_ERROR', options?: CacheErrorOptions) {
    super(message, options && 'cause' in options ? { cause: options.cause } : undefined);
    this.code = code;
  }
}

/** A call argument was refused (bad key, TTL, pattern or items); nothing was written. */
export class CacheValidationError extends CacheError {
  /** The class name, kept literal so it survives minifying. */
  override name = 'CacheValidationError';
  /** The name of the refused argument, for example `'key'`, `'ttl'`, `'pattern'` or `'items'`. */
  readonly argument: string;

  constructor(argument: string, message: string, code: CacheErrorCode = 'CACHE_INVALID_ARGUMENT') {
    super(`Invalid ${argument}: ${message}`, code);
    this.argument = argument;
  }
}

/** A value the codec cannot round-trip exactly, or stored data the codec cannot read. */
export class SerializationError extends CacheError {
  /** The class name, kept literal so it survives minifying. */
  override name = 'SerializationError';
  /** Where inside the value the problem is, as a JSONPath-like string such as `$.user.tags[3]`. */
  readonly path: string;

  constructor(path: string, message: string, options?: CacheErrorOptions) {
    super(`Cannot serialize value at ${path}: ${message}`, 'CACHE_SERIALIZATION', options);
    this.path = path;
  }
}

/** The backend refused, timed out or is closed; the original failure is in `cause`. */
export class CacheUnavailableError extends CacheError {
  /** The class name, kept literal so it survives minifying. */
  override name = 'CacheUnavailableError';
  /** The operation that failed, for example `'get'`. */
  readonly operation: string;

  constructor(operation: string, message: string, options?: CacheErrorOptions & { closed?: boolean }) {
    super(
      `Cache unavailable during ${operation}: ${message}`,
      options?.closed ? 'CACHE_CLOSED' : 'CACHE_UNAVAILABLE',
      options,
    );
    this.operation = operation;
  }
}

/** The adapter does not support this operation (see its `capabilities`). */
export class UnsupportedOperationError extends CacheError {
  /** The class name, kept literal so it survives minifying. */
  override name = 'UnsupportedOperationError';

  constructor(operation: string, adapter: string) {
    super(`${adapter} does not support ${operation}`, 'CACHE_UNSUPPORTED');
  }
}

/**
 * Wraps a client failure as a {@link CacheUnavailableError} for `operation`, keeping the original as `cause`.
 * A {@link CacheError} passes through unchanged, so wrapping twice is harmless.
 */
export function toUnavailableError(operation: string, err: unknown): CacheError {
  if (err instanceof CacheError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new CacheUnavailableError(operation, message, { cause: err });
}

/** The error every call on a closed cache rejects with. */
export function closedError(operation: string): CacheUnavailableError {
  return new CacheUnavailableError(operation, 'the cache is closed', { closed: true });
}
