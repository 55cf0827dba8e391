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
  | 'CACHE_MALFORMED_MESSAGE'
  | 'CACHE_LOADER_TIMEOUT';

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

/** Options of {@link SerializationError}. */
export interface SerializationErrorOptions extends CacheErrorOptions {
  /**
   * What failed: `'encode'`, turning a value into text to store it, or `'decode'`, reading stored text back.
   * @default 'encode'
   */
  operation?: 'encode' | 'decode';
  /** The cache key whose value it is, when the failure belongs to a known key. */
  key?: string;
}

/**
 * A value the codec cannot round-trip exactly, or stored data the codec cannot read. The message says which
 * (`Cannot serialize value at $.a: …` or `Cannot decode stored value at $.a: …`) and names the key when it is known
 * (`Cannot serialize the value of key "user:1" at $.tags[3]: …`).
 */
export class SerializationError extends CacheError {
  /** The class name, kept literal so it survives minifying. */
  override name = 'SerializationError';
  /** Where inside the value the problem is, as a JSONPath-like string such as `$.user.tags[3]`. */
  readonly path: string;
  /** What is wrong there, without the path or key (the message is built from it). */
  readonly reason: string;
  /** Whether encoding a value (`set`, `setMany`) or decoding stored text (`get`…) failed. */
  readonly operation: 'encode' | 'decode';
  /** The cache key whose value failed, when known. Without one the error has no `key` property at all. */
  declare readonly key?: string;

  constructor(path: string, reason: string, options?: SerializationErrorOptions) {
    const operation = options?.operation ?? 'encode';
    const key = options?.key;
    super(serializationMessage(operation, key, path, reason), 'CACHE_SERIALIZATION', options);
    this.path = path;
    this.reason = reason;
    this.operation = operation;
    if (key !== undefined) this.key = key;
  }
}

function serializationMessage(
  operation: 'encode' | 'decode',
  key: string | undefined,
  path: string,
  reason: string,
): string {
  const of = key === undefined ? '' : ` of key ${JSON.stringify(key)}`;
  if (operation === 'decode') {
    return `Cannot decode ${key === undefined ? 'stored value' : `the stored value${of}`} at ${path}: ${reason}`;
  }
  return `Cannot serialize ${key === undefined ? 'value' : `the value${of}`} at ${path}: ${reason}`;
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

/** A read-through loader did not settle within `hardTimeoutMs`: its `ctx.signal` was aborted. */
export class CacheLoaderTimeoutError extends CacheError {
  /** The class name, kept literal so it survives minifying. */
  override name = 'CacheLoaderTimeoutError';
  /** The key being loaded. */
  readonly key: string;

  constructor(key: string, timeoutMs: number) {
    super(
      `The loader of key ${JSON.stringify(key)} did not settle within ${timeoutMs} ms`,
      'CACHE_LOADER_TIMEOUT',
    );
    this.key = key;
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
