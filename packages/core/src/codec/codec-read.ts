import { Buffer, constants } from 'node:buffer';
import { propertySegment, WalkFailure, withSegment } from './codec-walk.js';

/*
 * How the encoder reads a value's data: as data, never through a method looked up on the value. Intrinsics are
 * bound here at load, so an own `toISOString` or `Symbol.iterator`, or a later change of a prototype, cannot run in
 * their place; each property is read once, and the copies made here hold what was read.
 */

const { call } = Function.prototype;
const dateGetTime = call.bind(Date.prototype.getTime) as (date: Date) => number;
const dateToISOString = call.bind(Date.prototype.toISOString) as (date: Date) => string;
const mapForEach = call.bind(Map.prototype.forEach) as (
  map: Map<unknown, unknown>,
  each: (value: unknown, key: unknown) => void,
) => void;
const setForEach = call.bind(Set.prototype.forEach) as (
  set: Set<unknown>,
  each: (member: unknown) => void,
) => void;
const TYPED_ARRAY_PROTOTYPE: object = Object.getPrototypeOf(Uint8Array.prototype);
const viewGetter = (name: string): ((view: Uint8Array) => never) =>
  call.bind(Object.getOwnPropertyDescriptor(TYPED_ARRAY_PROTOTYPE, name)!.get!) as (
    view: Uint8Array,
  ) => never;
const viewBuffer: (view: Uint8Array) => ArrayBufferLike = viewGetter('buffer');
const viewByteOffset: (view: Uint8Array) => number = viewGetter('byteOffset');

/** The number of bytes `view` shows (its own `byteLength`, if it has one, is not asked). */
export const viewByteLength: (view: Uint8Array) => number = viewGetter('byteLength');

/**
 * A fresh object with `record`'s own enumerable string-keyed properties, each read once: a getter's value is what
 * the caller then checks and stores. Spreading defines data properties, so no setter (of `Object.prototype`
 * either) runs, and a `__proto__` key stays an own property. Symbol-keyed properties are the caller's to refuse.
 */
export function readRecord(record: Record<string, unknown>): Record<string, unknown> {
  try {
    return { ...record };
  } catch {
    // A getter threw: the properties are read one by one to say which (those before it are read again).
    const copy: Record<string, unknown> = {};
    const keys = Object.keys(record);
    let i = 0;
    try {
      for (; i < keys.length; i++) defineOwn(copy, keys[i]!, record[keys[i]!]);
    } catch (error) {
      throw withSegment(error, propertySegment(keys[i]!));
    }
    return copy;
  }
}

/** The ISO 8601 text of `date`'s time, or `null` for an invalid date. */
export function readDate(date: Date): string | null {
  return Number.isNaN(dateGetTime(date)) ? null : dateToISOString(date);
}

/** Calls `each` for every entry of `map`, in order (as `Map.prototype.forEach`, entries added meanwhile included). */
export function readMap(map: Map<unknown, unknown>, each: (value: unknown, key: unknown) => void): void {
  mapForEach(map, each);
}

/** Calls `each` for every member of `set`, in order (as `Set.prototype.forEach`). */
export function readSet(set: Set<unknown>, each: (member: unknown) => void): void {
  setForEach(set, each);
}

/**
 * The padded base64 of exactly the bytes `view` shows, also for a view on part of a larger buffer.
 * @throws {WalkFailure} when the text would be longer than a JavaScript string can be.
 */
export function readBase64(view: Uint8Array): string {
  const length = viewByteLength(view);
  // Checked before encoding: Node would fail only after allocating, and with an error that names no value.
  const textLength = Math.ceil(length / 3) * 4;
  if (textLength > constants.MAX_STRING_LENGTH) {
    throw new WalkFailure(
      `too large: ${length} bytes are ${textLength} characters of base64, more than the longest string ` +
        `this JavaScript engine can hold (${constants.MAX_STRING_LENGTH})`,
    );
  }
  return Buffer.from(viewBuffer(view), viewByteOffset(view), length).toString('base64');
}

function defineOwn(target: object, key: PropertyKey, value: unknown): void {
  Object.defineProperty(target, key, { value, writable: true, enumerable: true, configurable: true });
}
