import { SerializationError } from '../errors.js';
import { decodeText } from './codec-decode.js';
import { encodeValue } from './codec-encode.js';

/**
 * The version of the stored format written by {@link StrataCodec} (see docs/codec.md). A change that an older
 * reader would misread gets a new version.
 */
export const CODEC_FORMAT_VERSION = 1;

/**
 * Turns values into strings for storage and back. Implementations must return fresh, unaliased values from
 * `decode`, so that a caller mutating what it read never changes what is cached.
 */
export interface Codec {
  /**
   * Encodes `value` as a string.
   * @throws {SerializationError} for a value it cannot round-trip exactly.
   */
  encode(value: unknown): string;
  /**
   * Decodes text produced by `encode` into a fresh value.
   * @throws {SerializationError} for text it cannot read (foreign or corrupt data).
   */
  decode(text: string): unknown;
}

/**
 * Encodes and decodes values exactly: JSON values, `Date`, `BigInt`, `Map`, `Set`, `Uint8Array` and `Buffer`.
 *
 * A plain JSON value is stored as its `JSON.stringify` text, byte for byte, so services in other languages can read
 * it; the other types become `{"$t": type, "v": payload}` tag objects (docs/codec.md). It is stateless, and its
 * methods do not use `this`, so they may be passed around detached.
 */
export class StrataCodec implements Codec {
  /**
   * Encodes `value` as JSON text, tagging the values JSON cannot represent.
   * The value is read as data, once: no method of it (`toJSON`, `toISOString`…) is called, a getter is read once,
   * and what is stored is what was checked.
   * @throws {SerializationError} for a value that cannot round-trip exactly (a function, symbol, `undefined` outside
   * an object property, an array hole, a circular reference, `NaN`, `±Infinity`, `-0`, an enumerable symbol-keyed
   * property, an own enumerable property of an array, `Date`, `Map`, `Set`, `Uint8Array` or `Buffer`, a `Proxy`, an
   * instance of an unsupported class, or a value whose text would be too long for a JavaScript string); `path` says
   * where, for example `$.user.tags[3]`.
   */
  encode(value: unknown): string {
    return encodeValue(value);
  }

  /**
   * Decodes text written by {@link StrataCodec.encode} into a fresh value.
   * @throws {SerializationError} (with `operation: 'decode'`) for text that is not JSON, or holds a `"$t"` object
   * that is not a well-formed tag (foreign or corrupt data); `path` says where in the stored JSON document.
   */
  decode(text: string): unknown {
    return decodeText(text);
  }
}

/** The codec adapters use unless given another: a shared {@link StrataCodec}. */
export const defaultCodec: Codec = new StrataCodec();

/**
 * Encodes `value`, the value of cache key `key`, with `codec`: what adapters call in `set` and `setMany`, so that a
 * refused value names its key.
 * @throws {SerializationError} as `codec.encode` does; one that names no key is replaced by a copy naming `key`
 * (same `path`, `reason`, `operation`, `cause` and `code`).
 */
export function encodeFor(codec: Codec, key: string, value: unknown): string {
  try {
    return codec.encode(value);
  } catch (error) {
    throw naming(error, key, 'encode');
  }
}

/**
 * Decodes `text`, the stored value of cache key `key`, with `codec`: what adapters call when reading a key, so that
 * unreadable data names its key.
 * @throws {SerializationError} as `codec.decode` does; one that names no key is replaced by a copy naming `key`, as
 * a decoding failure (`operation: 'decode'`, whatever the codec said).
 */
export function decodeFor(codec: Codec, key: string, text: string): unknown {
  try {
    return codec.decode(text);
  } catch (error) {
    throw naming(error, key, 'decode');
  }
}

function naming(error: unknown, key: string, operation: 'encode' | 'decode'): unknown {
  if (!(error instanceof SerializationError) || error.key !== undefined) return error;
  const options = Object.hasOwn(error, 'cause') ? { operation, key, cause: error.cause } : { operation, key };
  return new SerializationError(error.path, error.reason, options);
}
