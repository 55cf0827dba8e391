import { SerializationError } from '../errors.js';

/** The key that marks a tag object in stored JSON; every own `$t` key of a user object is escaped. */
export const TAG_KEY = '$t';

/**
 * A failure found while walking a value or a parsed document. It is not an `Error` (no stack capture), and each
 * container frame it unwinds through appends its path segment, so the success path never builds a path.
 */
export class WalkFailure {
  /** Path segments, innermost first (for example `['[3]', '.tags', '.user']`). */
  readonly segments: string[] = [];
  readonly message: string;
  readonly cause: unknown;
  readonly hasCause: boolean;

  constructor(message: string, ...cause: [] | [unknown]) {
    this.message = message;
    this.hasCause = cause.length > 0;
    this.cause = cause[0];
  }
}

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

/** Renders an object key as a path segment: `.name` for identifiers, `["a b"]` (a JSON string) otherwise. */
export function propertySegment(key: string): string {
  return IDENTIFIER.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
}

/** Renders a property key for a message: a JSON string, or `Symbol(description)`. */
export function keyText(key: PropertyKey): string {
  return typeof key === 'string' ? JSON.stringify(key) : String(key);
}

/**
 * Appends `segment` to a failure escaping a container frame. Anything else thrown there (a throwing getter, a
 * stack overflow) is wrapped, so the error still says where it happened.
 */
export function withSegment(error: unknown, segment: string): WalkFailure {
  const failure =
    error instanceof WalkFailure ? error : new WalkFailure(`reading it threw: ${errorText(error)}`, error);
  failure.segments.push(segment);
  return failure;
}

/** Converts whatever escaped a walk into the public error, rendering the path from its segments. */
export function toSerializationError(error: unknown, operation: 'encode' | 'decode'): SerializationError {
  const failure =
    error instanceof WalkFailure ? error : new WalkFailure(`unexpected failure: ${errorText(error)}`, error);
  let path = '$';
  for (let i = failure.segments.length - 1; i >= 0; i--) path += failure.segments[i];
  return new SerializationError(
    path,
    failure.message,
    failure.hasCause ? { operation, cause: failure.cause } : { operation },
  );
}

function errorText(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

/** Sets an own enumerable data property; a plain assignment to `__proto__` would change the prototype instead. */
export function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') {
    Object.defineProperty(target, key, { value, writable: true, enumerable: true, configurable: true });
  } else {
    target[key] = value;
  }
}
