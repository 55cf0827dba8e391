import { Buffer, constants } from 'node:buffer';
import { types } from 'node:util';
import { SerializationError } from '../errors.js';
import { extraElementProperty, extraProperty, isEnumerable } from './codec-extras.js';
import { readBase64, readDate, readMap, readRecord, readSet, viewByteLength } from './codec-read.js';
import {
  keyText,
  propertySegment,
  TAG_KEY,
  toSerializationError,
  WalkFailure,
  withSegment,
} from './codec-walk.js';

const { isDate, isMap, isProxy, isSet, isUint8Array } = types;

const SUPPORTED = 'only JSON values, Date, BigInt, Map, Set, Uint8Array and Buffer can be stored';

/**
 * Encodes `value` as described in docs/codec.md: plain JSON gives exactly the text `JSON.stringify` gives for it.
 * The value is read once, as data, into a fresh tree that `JSON.stringify` then writes: no method of the value
 * (`toJSON`, `toISOString`…) runs, a getter runs once, and what is stored is what was checked.
 * @throws {SerializationError} naming the path of the first value that cannot round-trip exactly.
 */
export function encodeValue(value: unknown): string {
  let tree: unknown;
  try {
    tree = walk(value, []);
  } catch (error) {
    throw toSerializationError(error, 'encode');
  }
  // The tree is the walk's own, but inherits from Object.prototype and Array.prototype: a `toJSON` added to one
  // of them (checked now, after the walk, whose getters might add one) would be called by JSON.stringify.
  // (`in` runs no getter, and is answered from V8's caches while the prototypes do not change.)
  if ('toJSON' in Object.prototype || 'toJSON' in Array.prototype) detach(tree);
  try {
    return JSON.stringify(tree);
  } catch (error) {
    throw tooLongText(error);
  }
}

/**
 * Checks `value` and returns a fresh tree built from what was read: JSON primitives as they are, a fresh copy of
 * every object and array, tags for the other types. `ancestors` is the stack of open containers, for cycles.
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
      return tag('BigInt', String(value));
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
  // Anything else done to a Proxy (even reading its prototype) would run its traps.
  if (isProxy(value)) throw new WalkFailure('a Proxy cannot be stored (only plain data can be read safely)');
  // Exact prototypes, not instanceof: a subclass instance would come back as its base class.
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto === Object.prototype || proto === null)
    return walkRecord(value as Record<string, unknown>, ancestors);
  if (proto === Array.prototype && Array.isArray(value)) return walkArray(value, ancestors);
  if (proto === Date.prototype && isDate(value)) return walkDate(value);
  if (proto === Map.prototype && isMap(value)) return walkMap(value, ancestors);
  if (proto === Set.prototype && isSet(value)) return walkSet(value, ancestors);
  if (proto === Uint8Array.prototype && isUint8Array(value)) return walkBytes(value, 'Uint8Array');
  if (proto === Buffer.prototype && isUint8Array(value)) return walkBytes(value, 'Buffer');
  throw new WalkFailure(`${describeInstance(proto as object)} cannot be stored: ${SUPPORTED}`);
}

/** The prototypes of the supported classes; an object inheriting from one without being one is an imitation. */
const SUPPORTED_PROTOTYPES: ReadonlySet<unknown> = new Set([
  Array.prototype,
  Date.prototype,
  Map.prototype,
  Set.prototype,
  Uint8Array.prototype,
  Buffer.prototype,
]);

function enter(container: object, ancestors: object[]): void {
  if (ancestors.includes(container)) throw new WalkFailure('a circular reference cannot be stored');
  ancestors.push(container);
}

function tag(type: string, payload: unknown): Record<string, unknown> {
  return { $t: type, v: payload };
}

function walkRecord(record: Record<string, unknown>, ancestors: object[]): unknown {
  enter(record, ancestors);
  const symbols = Object.getOwnPropertySymbols(record);
  if (symbols.length > 0) rejectSymbolKeys(record, symbols);
  const copy = readRecord(record);
  const keys = Object.keys(copy);
  let i = 0;
  try {
    for (; i < keys.length; i++) {
      const key = keys[i]!;
      const child = copy[key];
      if (child === undefined) continue; // omitted, as JSON does
      const encoded = walk(child, ancestors);
      // The copy's own data property: assigning it runs no setter, also for a key named `__proto__`.
      if (encoded !== child) copy[key] = encoded;
    }
  } catch (error) {
    throw withSegment(error, propertySegment(keys[i]!));
  }
  ancestors.pop();
  // An own `$t` key would make the object look like a tag: it is stored as an escaped list of entries instead.
  return Object.hasOwn(copy, TAG_KEY) ? tag('Object', entriesOf(copy, keys)) : copy;
}

function entriesOf(copy: Record<string, unknown>, keys: string[]): unknown[] {
  const entries: unknown[] = [];
  for (const key of keys) {
    const value = copy[key];
    if (value !== undefined) entries.push([key, value]);
  }
  return entries;
}

function rejectSymbolKeys(record: object, symbols: symbol[]): void {
  for (const symbol of symbols) {
    if (isEnumerable(record, symbol)) {
      throw withSegment(new WalkFailure('a symbol-keyed property cannot be stored'), `[${String(symbol)}]`);
    }
  }
}

function walkArray(array: unknown[], ancestors: object[]): unknown[] {
  enter(array, ancestors);
  const length = array.length;
  rejectExtra('an array', 'its elements', extraElementProperty(array, length));
  // Element by element, not `slice`: a hole is found where it is (slicing a sparse array of length 2^32 − 1 takes
  // seconds), and an element that is a getter is read once.
  const copy: unknown[] = [];
  let i = 0;
  try {
    for (; i < length; i++) {
      const child = array[i];
      if (child === undefined) {
        throw new WalkFailure(
          i in array
            ? 'undefined cannot be stored in an array (JSON would turn it into null)'
            : 'an array hole cannot be stored (sparse arrays are not supported)',
        );
      }
      copy.push(walk(child, ancestors));
    }
  } catch (error) {
    throw withSegment(error, `[${i}]`);
  }
  ancestors.pop();
  return copy;
}

function walkDate(date: Date): unknown {
  rejectExtra('a Date', 'its time', extraProperty(date));
  return tag('Date', readDate(date));
}

function walkMap(map: Map<unknown, unknown>, ancestors: object[]): unknown {
  enter(map, ancestors);
  rejectExtra('a Map', 'its entries', extraProperty(map));
  const entries: unknown[] = [];
  let part = '.key';
  try {
    readMap(map, (value, key) => {
      part = '.key';
      const encodedKey = walk(key, ancestors);
      part = '.value';
      entries.push([encodedKey, walk(value, ancestors)]);
    });
  } catch (error) {
    throw withSegment(error, `<map>[${entries.length}]${part}`);
  }
  ancestors.pop();
  return tag('Map', entries);
}

function walkSet(set: Set<unknown>, ancestors: object[]): unknown {
  enter(set, ancestors);
  rejectExtra('a Set', 'its members', extraProperty(set));
  const members: unknown[] = [];
  try {
    readSet(set, (member) => {
      members.push(walk(member, ancestors));
    });
  } catch (error) {
    throw withSegment(error, `<set>[${members.length}]`);
  }
  ancestors.pop();
  return tag('Set', members);
}

function walkBytes(bytes: Uint8Array, type: 'Uint8Array' | 'Buffer'): unknown {
  const extra = extraElementProperty(bytes, viewByteLength(bytes));
  rejectExtra(type === 'Buffer' ? 'a Buffer' : 'a Uint8Array', 'its bytes', extra);
  return tag(type, readBase64(bytes));
}

/** Refuses a container with an own enumerable property besides its contents: storing it would lose that property. */
function rejectExtra(what: string, contents: string, key: PropertyKey | null | undefined): void {
  if (key === undefined) return;
  const property = key === null ? 'own named properties' : `an own property ${keyText(key)}`;
  throw new WalkFailure(`${what} with ${property} cannot be stored (only ${contents} would be kept)`);
}

/** Gives every object and array of `tree` (built by the walk) a null prototype; an array stays an array. */
function detach(tree: unknown): void {
  if (typeof tree !== 'object' || tree === null) return;
  Object.setPrototypeOf(tree, null);
  for (const child of Object.values(tree)) detach(child);
}

/** The error for a failure of JSON.stringify on a tree the walk built: only its length can be the reason. */
function tooLongText(error: unknown): SerializationError {
  const tooLong = error instanceof RangeError && /string length/i.test(error.message);
  return new SerializationError(
    '$',
    tooLong
      ? `too large: its JSON text would be longer than the longest string this JavaScript engine can hold (${constants.MAX_STRING_LENGTH})`
      : `JSON.stringify failed: ${String(error)}`,
    { cause: error },
  );
}

function describeInstance(proto: object): string {
  // Own descriptors, never `proto.constructor.name`: reading them must not run user code (nor a Proxy's traps).
  if (isProxy(proto)) return 'an object with a Proxy as its prototype';
  const ctor: unknown = Object.getOwnPropertyDescriptor(proto, 'constructor')?.value;
  const nameValue: unknown =
    typeof ctor === 'function' && !isProxy(ctor)
      ? Object.getOwnPropertyDescriptor(ctor, 'name')?.value
      : undefined;
  const name = typeof nameValue === 'string' && nameValue !== '' ? nameValue : undefined;
  if (name === undefined) return 'an object with a custom prototype';
  if (SUPPORTED_PROTOTYPES.has(proto))
    return `an imitation of ${name} (it inherits from ${name}.prototype without being one)`;
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
