import { type InspectOptions, inspect } from 'node:util';

/**
 * The own properties the codec cannot store on a Date, Map, Set, array, Uint8Array or Buffer: it keeps only their
 * contents (time, entries, members, elements, bytes), so an own enumerable property besides those would be lost.
 * Non-enumerable ones are ignored, as they are on plain objects (and as JSON ignores them).
 */

/** `propertyIsEnumerable`, bound at load: a later change of `Object.prototype` cannot run in its place. */
export const isEnumerable = Function.prototype.call.bind(Object.prototype.propertyIsEnumerable) as (
  object: object,
  key: PropertyKey,
) => boolean;

/** Up to this length, listing every own key is cheaper than asking `util.inspect` (measured: ~1 µs for it). */
const LIST_KEYS_UP_TO = 64;

/** Every option that shapes the output is set, so that a change of `util.inspect.defaultOptions` cannot matter. */
const INSPECT_OPTIONS: InspectOptions = {
  showHidden: false,
  depth: 0,
  colors: false,
  customInspect: false,
  showProxy: false,
  maxArrayLength: 0,
  maxStringLength: 0,
  breakLength: Number.POSITIVE_INFINITY,
  compact: 3,
  sorted: false,
  getters: false,
  numericSeparator: false,
};

/**
 * The first own enumerable property of `value` (a Date, Map or Set, which normally have none), or `undefined`.
 * Not for a Proxy, whose traps this would run.
 */
export function extraProperty(value: object): PropertyKey | undefined {
  const keys = Reflect.ownKeys(value);
  for (let i = 0; i < keys.length; i++) {
    if (isEnumerable(value, keys[i]!)) return keys[i];
  }
  return undefined;
}

/**
 * An own enumerable property of an array or typed array `value` of `length` elements that is not one of its
 * elements: its key, `null` when one exists but naming it would take time proportional to `length` (a long typed
 * array), or `undefined` when there is none. The cost does not grow with `length`: `Object.keys` would list every
 * index (seconds and gigabytes for 64 MiB), so a longer value is asked through `util.inspect`, which lists only the
 * non-index properties (V8 skips the elements) and, with `maxArrayLength: 0`, prints no element.
 *
 * Not for a Proxy, whose traps this would run, and only for a value whose prototype is exactly `Array.prototype`,
 * `Uint8Array.prototype` or `Buffer.prototype`.
 */
export function extraElementProperty(
  value: unknown[] | Uint8Array,
  length: number,
): PropertyKey | null | undefined {
  const symbols = Object.getOwnPropertySymbols(value);
  // util.inspect reads the value's `Symbol.toStringTag`, `constructor` (and its name) and, for a typed array,
  // `length`: own properties of those names could be getters, so such a value has its keys listed instead.
  let listKeys =
    length <= LIST_KEYS_UP_TO ||
    Object.hasOwn(value, 'constructor') ||
    (!Array.isArray(value) && Object.hasOwn(value, 'length'));
  for (let i = 0; i < symbols.length; i++) {
    const symbol = symbols[i]!;
    if (isEnumerable(value, symbol)) return symbol;
    if (symbol === Symbol.toStringTag) listKeys = true;
  }
  if (listKeys) return firstNonIndexKey(Object.keys(value), length);
  // Without such properties the output is exactly `<prefix>[]` or `<prefix>[ ... 70 more items ]`; with one, the
  // entries that follow end in a property's value, which at depth 0 is a primitive or `[Type]` (strings truncated
  // to `''... n more characters`), never in "more items".
  const text = inspect(value, INSPECT_OPTIONS);
  const end = length === 0 ? '[]' : ` ... ${length} more item${length === 1 ? '' : 's'} ]`;
  if (text.endsWith(end)) return undefined;
  // Walking an array costs time proportional to its length anyway, so its key can be named.
  return Array.isArray(value) ? firstNonIndexKey(Object.keys(value), length) : null;
}

/** The first key in `keys` (own enumerable keys of a value of `length` elements) that is not an index. */
function firstNonIndexKey(keys: string[], length: number): string | undefined {
  // Indices come first, in order; equal counts mean no other key, or holes as many as other keys (the walk then
  // finds a hole, which it refuses).
  if (keys.length === length) return undefined;
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!;
    if (!isIndex(key)) return key;
  }
  return undefined;
}

/** Whether `key` is an array index: the canonical decimal form of an integer from 0 to 2^32 − 2. */
function isIndex(key: string): boolean {
  return key !== '4294967295' && String(Number(key) >>> 0) === key;
}
