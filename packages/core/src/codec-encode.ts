import { Buffer } from 'node:buffer';
import { SerializationError } from './errors.js';

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

/**
 * Appends `segment` to a failure escaping a container frame. Anything else thrown there (a throwing getter, a
 * Proxy trap, a stack overflow) is wrapped, so the error still says where it happened.
 */
export function withSegment(error: unknown, segment: string): WalkFailure {
  const failure =
    error instanceof WalkFailure ? error : new WalkFailure(`reading it threw: ${errorText(error)}`, error);
  failure.segments.push(segment);
  return failure;
}

/** Converts whatever escaped a walk into the public error, rendering the path from its segments. */
export function toSerializationError(error: unknown): SerializationError {
  const failure =
    error instanceof WalkFailure ? error : new WalkFailure(`unexpected failure: ${errorText(error)}`, error);
  let path = '$';
  for (let i = failure.segments.length - 1; i >= 0; i--) path += failure.segments[i];
  return new SerializationError(
    path,
    failure.message,
    failure.hasCause ? { cause: failure.cause } : undefined,
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

const SUPPORTED = 'only JSON values, Date, BigInt, Map, Set, Uint8Array and Buffer can be stored';

/**
 * Encodes `value` as described in docs/codec.md: plain JSON is returned verbatim by `JSON.stringify`.
 * @throws {SerializationError} naming the path of the first value that cannot round-trip exactly.
 */
export function encodeValue(value: unknown): string {
  let tree: unknown;
  try {
    tree = walk(value, []);
  } catch (error) {
    throw toSerializationError(error);
  }
  // `tree === value` unless something needed a tag, so plain JSON is stringified as it was given.
  return JSON.stringify(tree);
}

/**
 * Validates `value` and returns it unchanged if its subtree is plain JSON, else a tagged copy (copy-on-write, so
 * the common case allocates nothing). `ancestors` is the stack of open containers, for cycle detection.
 */
function walk(value: unknown, ancestors: object[]): unknown {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      if (Number.isFinite(value) && (value !== 0 || 1 / value > 0)) return value;
      throw new WalkFailure(
        value === 0
          ? '-0 cannot be stored (it would come back as 0)'
          : `${value} cannot be stored (JSON has no such number)`,
      );
    case 'object':
      return value === null ? null : walkObject(value, ancestors);
    case 'bigint':
      return { $t: 'BigInt', v: value.toString() };
    case 'undefined':
      throw new WalkFailure(
        'undefined cannot be stored (it is only allowed as an object property, which is omitted)',
      );
    case 'function':
      throw new WalkFailure('a function cannot be stored');
    default:
      throw new WalkFailure('a symbol cannot be stored');
  }
}

function walkObject(value: object, ancestors: object[]): unknown {
  // Exact prototypes, not instanceof: a subclass instance would come back as its base class.
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto === Object.prototype || proto === null)
    return walkRecord(value as Record<string, unknown>, ancestors);
  if (proto === Array.prototype && Array.isArray(value)) return walkArray(value, ancestors);
  if (proto === Date.prototype) {
    const date = value as Date;
    return { $t: 'Date', v: Number.isNaN(date.getTime()) ? null : date.toISOString() };
  }
  if (proto === Map.prototype) return walkMap(value as Map<unknown, unknown>, ancestors);
  if (proto === Set.prototype) return walkSet(value as Set<unknown>, ancestors);
  if (proto === Uint8Array.prototype) return { $t: 'Uint8Array', v: toBase64(value as Uint8Array) };
  if (proto === Buffer.prototype) return { $t: 'Buffer', v: toBase64(value as Buffer) };
  throw new WalkFailure(`${describeInstance(proto as object)} cannot be stored: ${SUPPORTED}`);
}

function enter(container: object, ancestors: object[]): void {
  if (ancestors.includes(container)) throw new WalkFailure('a circular reference cannot be stored');
  ancestors.push(container);
}

function walkRecord(record: Record<string, unknown>, ancestors: object[]): unknown {
  enter(record, ancestors);
  const symbols = Object.getOwnPropertySymbols(record);
  if (symbols.length > 0) rejectSymbolKeys(record, symbols);
  const keys = Object.keys(record);
  // An own `$t` key would make the object look like a tag: it is stored as an escaped list of entries instead.
  const entries: unknown[] | undefined = Object.hasOwn(record, TAG_KEY) ? [] : undefined;
  let copy: Record<string, unknown> | undefined;
  let i = 0;
  try {
    for (; i < keys.length; i++) {
      const key = keys[i]!;
      const child = record[key];
      if (child === undefined) continue; // omitted, as JSON does
      const encoded = walk(child, ancestors);
      if (entries !== undefined) entries.push([key, encoded]);
      else if (copy !== undefined) setOwn(copy, key, encoded);
      else if (encoded !== child) {
        copy = copyBefore(record, keys, i);
        setOwn(copy, key, encoded);
      }
    }
  } catch (error) {
    throw withSegment(error, propertySegment(keys[i]!));
  }
  ancestors.pop();
  if (entries !== undefined) return { $t: 'Object', v: entries };
  return copy ?? record;
}

function rejectSymbolKeys(record: object, symbols: symbol[]): void {
  for (const symbol of symbols) {
    if (Object.prototype.propertyIsEnumerable.call(record, symbol)) {
      throw withSegment(new WalkFailure('a symbol-keyed property cannot be stored'), `[${String(symbol)}]`);
    }
  }
}

/** The properties before `end`, which were unchanged by the walk (read again: getters must be pure). */
function copyBefore(record: Record<string, unknown>, keys: string[], end: number): Record<string, unknown> {
  const copy: Record<string, unknown> = {};
  for (let j = 0; j < end; j++) {
    const key = keys[j]!;
    const child = record[key];
    if (child !== undefined) setOwn(copy, key, child);
  }
  return copy;
}

function walkArray(array: unknown[], ancestors: object[]): unknown {
  enter(array, ancestors);
  let copy: unknown[] | undefined;
  let i = 0;
  try {
    for (; i < array.length; i++) {
      const child = array[i];
      if (child === undefined) {
        throw new WalkFailure(
          i in array
            ? 'undefined cannot be stored in an array (JSON would turn it into null)'
            : 'an array hole cannot be stored (sparse arrays are not supported)',
        );
      }
      const encoded = walk(child, ancestors);
      if (copy !== undefined) copy.push(encoded);
      else if (encoded !== child) {
        copy = array.slice(0, i);
        copy.push(encoded);
      }
    }
  } catch (error) {
    throw withSegment(error, `[${i}]`);
  }
  ancestors.pop();
  return copy ?? array;
}

function walkMap(map: Map<unknown, unknown>, ancestors: object[]): unknown {
  enter(map, ancestors);
  const entries: unknown[] = [];
  let part = '.key';
  try {
    for (const [key, value] of map) {
      part = '.key';
      const encodedKey = walk(key, ancestors);
      part = '.value';
      entries.push([encodedKey, walk(value, ancestors)]);
    }
  } catch (error) {
    throw withSegment(error, `<map>[${entries.length}]${part}`);
  }
  ancestors.pop();
  return { $t: 'Map', v: entries };
}

function walkSet(set: Set<unknown>, ancestors: object[]): unknown {
  enter(set, ancestors);
  const members: unknown[] = [];
  try {
    for (const member of set) members.push(walk(member, ancestors));
  } catch (error) {
    throw withSegment(error, `<set>[${members.length}]`);
  }
  ancestors.pop();
  return { $t: 'Set', v: members };
}

/** Base64 of exactly the viewed bytes, also for a view on part of a larger buffer. */
function toBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

function describeInstance(proto: object): string {
  // The own descriptor, not `proto.constructor`: reading it must not run user code.
  const ctor: unknown = Object.getOwnPropertyDescriptor(proto, 'constructor')?.value;
  const name = typeof ctor === 'function' && ctor.name !== '' ? ctor.name : undefined;
  if (name === undefined) return 'an object with a custom prototype';
  if (
    name === 'Number' ||
    name === 'String' ||
    name === 'Boolean' ||
    name === 'BigInt' ||
    name === 'Symbol'
  ) {
    return `a boxed ${name} object`;
  }
  return `an instance of ${name}`;
}
