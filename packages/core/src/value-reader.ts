import { type Codec, decodeFor, defaultCodec } from './codec/codec.js';
import { TAG_MARK } from './codec/codec-decode.js';
import type { Entry } from './entry.js';

/**
 * How values are read out of entries that a store keeps in memory as objects (for other stores, every read decodes):
 * - `'decode'`: decode the text on every read (the heap holds the text only);
 * - `'copy'`: keep the value decoded once on the entry, and give each read a fresh copy of it (several times cheaper
 *   than decoding; the heap holds the decoded value too);
 * - `'frozen'`: keep the value decoded once, deep-frozen, and give every read that same object.
 */
export type ValueReading = 'decode' | 'copy' | 'frozen';

/** Marks an entry whose value can be neither frozen nor copied as a template (it holds a Map, Set, Date…). */
const UNSHAREABLE: unique symbol = Symbol('unshareable');

/**
 * Reads the value out of an entry with a codec, as `reading` says. Copies are exact: only a value the default codec
 * decodes to plain JSON (no tagged type in its text) is kept as a template or frozen; any other is decoded each time.
 * Values are always fresh, unaliased copies except with `'frozen'`.
 */
export class ValueReader {
  /** The codec entries' texts are in. */
  readonly codec: Codec;
  /** How values are read (`'decode'` whatever was asked, for a codec other than the default one, unless frozen). */
  readonly reading: ValueReading;

  constructor(codec: Codec, reading: ValueReading) {
    this.codec = codec;
    // Only the default codec's texts are known to decode to trees that copying reproduces exactly.
    this.reading = codec === defaultCodec ? reading : reading === 'frozen' ? 'frozen' : 'decode';
  }

  /** The value of `entry`, stored under `key` (named if its text cannot be decoded). */
  read(key: string, entry: Entry): unknown {
    const reading = this.reading;
    if (reading === 'decode') return decodeFor(this.codec, key, entry.text);
    const decoded = entry.decoded;
    if (decoded === undefined) return this.#first(key, entry);
    if (decoded === UNSHAREABLE) return decodeFor(this.codec, key, entry.text);
    if (reading === 'frozen') return decoded;
    try {
      return cloneJson(decoded);
    } catch {
      // Nested deeper than copying can go (JSON.parse has no such limit).
      return decodeFor(this.codec, key, entry.text);
    }
  }

  /** The value of an entry never read before, keeping what later reads of it use. */
  #first(key: string, entry: Entry): unknown {
    const value = decodeFor(this.codec, key, entry.text);
    if (this.reading === 'frozen') {
      if (freezeDeep(value)) {
        entry.decoded = value;
        return value;
      }
      entry.decoded = UNSHAREABLE;
      return decodeFor(this.codec, key, entry.text);
    }
    if (entry.text.includes(TAG_MARK)) {
      entry.decoded = UNSHAREABLE;
      return value;
    }
    // The decoded value becomes the template, never handed out; the caller gets a copy.
    entry.decoded = value;
    return this.read(key, entry);
  }
}

/**
 * A fresh copy of a tree that `JSON.parse` returned: plain objects, arrays and primitives, and nothing else. The
 * copy is exactly what parsing the same text again would give (the same own properties in the same order, the same
 * prototypes, no object shared with `tree`), about ten times faster than `JSON.parse` for a small record: object
 * spread copies a parsed object's properties in one step, and only nested objects and arrays are walked.
 *
 * Only for trees `JSON.parse` made: anything else (a `Date`, a `Map`, an object with a getter or a prototype of its
 * own) would not be copied faithfully. A tree nested deeper than the stack allows throws a `RangeError`.
 */
export function cloneJson<T>(tree: T): T {
  if (typeof tree !== 'object' || tree === null) return tree;
  if (Array.isArray(tree)) {
    const copy: unknown[] = tree.slice();
    for (let i = 0; i < copy.length; i++) {
      const item = copy[i];
      if (typeof item === 'object' && item !== null) copy[i] = cloneJson(item);
    }
    return copy as T;
  }
  // Spread defines own data properties, so a parsed `__proto__` key stays an own property, as JSON.parse makes it;
  // assigning to it afterwards sets that own property, never the prototype.
  const copy: Record<string, unknown> = { ...(tree as Record<string, unknown>) };
  // Own keys only: an enumerable property added to Object.prototype must not find its way into the copy.
  const keys = Object.keys(copy);
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!;
    const child = copy[key];
    if (typeof child === 'object' && child !== null) copy[key] = cloneJson(child);
  }
  return copy as T;
}

/** Deep-freezes plain objects and arrays; false (leaving it partly frozen) when `value` holds anything else. */
function freezeDeep(value: unknown): boolean {
  if (value === null || typeof value !== 'object') return true;
  if (Array.isArray(value)) {
    for (const item of value) if (!freezeDeep(item)) return false;
  } else {
    const proto: unknown = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) return false;
    for (const item of Object.values(value)) if (!freezeDeep(item)) return false;
  }
  Object.freeze(value);
  return true;
}
