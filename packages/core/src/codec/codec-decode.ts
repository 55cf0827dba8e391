import { Buffer } from 'node:buffer';
import { SerializationError } from '../errors.js';
import {
  propertySegment,
  setOwn,
  TAG_KEY,
  toSerializationError,
  WalkFailure,
  withSegment,
} from './codec-walk.js';

/**
 * Every tag has the key `"$t"` and JSON.stringify never escapes `$`, so text without this has no tag. It starts at
 * `$`, not at the quote: V8 scans for a short pattern's first character, and quotes are everywhere in JSON
 * (measured: ~10 ns instead of ~200 ns on a 220-byte record).
 */
export const TAG_MARK = '$t"';
const DECODE = { operation: 'decode' } as const;
const BIGINT = /^(?:0|-?[1-9][0-9]*)$/;
/**
 * Base64 characters, then at most two `=`; with a length that is a multiple of 4 (checked apart), this is padded
 * base64. No group: a repeated group makes V8's regex engine keep one backtracking entry per repetition, which
 * overflows its stack on a few MiB of text; a repeated character class is matched in a loop.
 */
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * Decodes text written by `encodeValue` (or by another service following docs/codec.md).
 * @throws {SerializationError} for text that is not JSON, or holds a `"$t"` object that is not a well-formed tag.
 */
export function decodeText(text: string): unknown {
  if (typeof text !== 'string')
    throw new SerializationError('$', `can only decode a string, got ${typeof text}`, DECODE);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (cause) {
    throw new SerializationError('$', 'the stored text is not valid JSON', { operation: 'decode', cause });
  }
  if (!text.includes(TAG_MARK)) return parsed;
  try {
    return revive(parsed);
  } catch (error) {
    throw toSerializationError(error, 'decode');
  }
}

/** Replaces tag objects by their values, bottom-up and in place: the parsed tree is fresh and ours to change. */
function revive(node: unknown): unknown {
  if (typeof node !== 'object' || node === null) return node;
  if (Array.isArray(node)) {
    let i = 0;
    try {
      for (; i < node.length; i++) {
        const child: unknown = node[i];
        if (typeof child === 'object' && child !== null) node[i] = revive(child);
      }
    } catch (error) {
      throw withSegment(error, `[${i}]`);
    }
    return node;
  }
  const record = node as Record<string, unknown>;
  if (Object.hasOwn(record, TAG_KEY)) return untag(record);
  const keys = Object.keys(record);
  let i = 0;
  try {
    for (; i < keys.length; i++) {
      const key = keys[i]!;
      const child = record[key];
      if (typeof child !== 'object' || child === null) continue;
      const revived = revive(child);
      if (revived !== child) setOwn(record, key, revived);
    }
  } catch (error) {
    throw withSegment(error, propertySegment(keys[i]!));
  }
  return record;
}

function untag(tag: Record<string, unknown>): unknown {
  const type = tag[TAG_KEY];
  if (Object.keys(tag).length !== 2 || !Object.hasOwn(tag, 'v')) {
    throw new WalkFailure(
      `a "$t" object must have exactly the keys "$t" and "v" (not written by this codec)`,
    );
  }
  const payload = tag.v;
  switch (type) {
    case 'Date':
      return toDate(payload);
    case 'BigInt':
      if (typeof payload === 'string' && BIGINT.test(payload)) return BigInt(payload);
      throw new WalkFailure('a BigInt tag needs a decimal integer string as "v"');
    case 'Uint8Array': {
      const bytes = new Uint8Array(base64Length(payload, type));
      Buffer.from(bytes.buffer).write(payload as string, 'base64');
      return bytes;
    }
    case 'Buffer': {
      // Buffer.alloc never hands out a slice of the shared pool, so the result aliases nothing.
      const bytes = Buffer.alloc(base64Length(payload, type));
      bytes.write(payload as string, 'base64');
      return bytes;
    }
    case 'Map':
      return new Map(pairs(payload, type, false) as Array<[unknown, unknown]>);
    case 'Set':
      return new Set(members(payload, type));
    case 'Object': {
      const object: Record<string, unknown> = {};
      for (const [key, value] of pairs(payload, type, true)) setOwn(object, key as string, value);
      return object;
    }
    default:
      throw new WalkFailure(`unknown tag type ${JSON.stringify(type)} (not written by this codec version)`);
  }
}

function toDate(payload: unknown): Date {
  if (payload === null) return new Date(Number.NaN);
  if (typeof payload === 'string') {
    const date = new Date(payload);
    if (!Number.isNaN(date.getTime())) return date;
  }
  throw new WalkFailure('a Date tag needs an ISO 8601 string or null as "v"');
}

function base64Length(payload: unknown, type: string): number {
  if (typeof payload === 'string' && payload.length % 4 === 0 && BASE64.test(payload)) {
    return Buffer.byteLength(payload, 'base64');
  }
  throw new WalkFailure(`a ${type} tag needs a padded base64 string as "v"`);
}

/** The revived payload array of a Map, Set or Object tag. */
function members(payload: unknown, type: string): unknown[] {
  if (!Array.isArray(payload)) throw new WalkFailure(`a ${type} tag needs an array as "v"`);
  try {
    return revive(payload) as unknown[];
  } catch (error) {
    throw withSegment(error, '.v');
  }
}

/** The revived `[key, value]` pairs of a Map or escaped Object tag (whose keys must be strings). */
function pairs(payload: unknown, type: string, stringKeys: boolean): unknown[][] {
  const list = members(payload, type);
  for (let i = 0; i < list.length; i++) {
    const pair = list[i];
    if (!Array.isArray(pair) || pair.length !== 2 || (stringKeys && typeof pair[0] !== 'string')) {
      const failure = new WalkFailure(
        `a ${type} tag needs [${stringKeys ? 'string' : 'key'}, value] pairs in "v"`,
      );
      failure.segments.push(`[${i}]`, '.v');
      throw failure;
    }
  }
  return list as unknown[][];
}
