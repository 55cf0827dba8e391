import type { EntryMeta } from './entry.js';
import { SerializationError } from './errors.js';

/**
 * How an entry is stored as one text by a backend that keeps text (Redis, PostgreSQL): the codec's text inside a
 * small, versioned JSON envelope that carries the entry's absolute expiry in the backend's clock (epoch ms, or
 * `null` for none), and, when the entry has any, its metadata (docs/codec.md, "Entries"):
 *
 * `{"$s":1,"exp":1765103456789,"v":<the codec's text>}`
 * `{"$s":2,"exp":1765103456789,"ml":29,"m":{"f":1765103450000,"ver":"x"},"v":<the codec's text>}`
 *
 * Every envelope is JSON another program can read. Its first bytes are fixed, and the metadata's length (`ml`, in
 * UTF-16 code units) comes before it, so it is recognised and taken apart without parsing the value. A text that does
 * not begin so (written by an older version, by another program, or stored plain) is the codec's text itself.
 */
export const ENVELOPE_PREFIX = '{"$s":1,"exp":';

/** How an envelope with metadata begins. */
export const META_ENVELOPE_PREFIX = '{"$s":2,"exp":';

const META_LENGTH_MARK = ',"ml":';
const META_MARK = ',"m":';
const VALUE_MARK = ',"v":';
const CLOSING_BRACE = 0x7d;

/** A stored text taken apart: the codec's text, the absolute expiry and the metadata the envelope carried. */
export interface Unwrapped {
  /** The codec's text of the value. */
  readonly text: string;
  /** Epoch ms (the backend's clock) after which the value is gone; `undefined`: no expiry; `null`: not enveloped. */
  readonly expiresAt: number | undefined | null;
  /** The entry's metadata; `undefined` when it had none. */
  readonly meta: EntryMeta | undefined;
}

/** The metadata as stored: short, fixed names. */
interface StoredMeta {
  f?: number;
  w?: number;
  ver?: string;
  lt?: string;
  lu?: number;
  tags?: Record<string, number>;
  ph?: 1;
  uv?: 1;
}

/**
 * `text` (the codec's) inside an envelope carrying `expiresAt` (epoch ms in the backend's clock; `undefined`: none)
 * and `meta`, if any.
 */
export function wrapEntry(text: string, expiresAt: number | undefined, meta?: EntryMeta): string {
  const exp = expiresAt === undefined ? 'null' : String(Math.floor(expiresAt));
  if (meta === undefined) return `${ENVELOPE_PREFIX}${exp}${VALUE_MARK}${text}}`;
  const stored: StoredMeta = {};
  if (meta.freshUntil !== undefined) stored.f = Math.floor(meta.freshUntil);
  if (meta.writtenAt !== undefined) stored.w = Math.floor(meta.writtenAt);
  if (meta.version !== undefined) stored.ver = meta.version;
  if (meta.lease !== undefined) {
    stored.lt = meta.lease.token;
    stored.lu = Math.floor(meta.lease.until);
  }
  if (meta.tags !== undefined) stored.tags = { ...meta.tags };
  if (meta.placeholder === true) stored.ph = 1;
  if (meta.unverified === true) stored.uv = 1;
  const json = JSON.stringify(stored);
  return `${META_ENVELOPE_PREFIX}${exp}${META_LENGTH_MARK}${json.length}${META_MARK}${json}${VALUE_MARK}${text}}`;
}

/**
 * The codec's text, expiry and metadata of a stored text; a text without an envelope is returned whole, with
 * `expiresAt` `null`.
 * @throws {SerializationError} for a text that begins like an envelope but is not a well-formed one.
 */
export function unwrapEntry(stored: string): Unwrapped {
  let withMeta = false;
  if (!stored.startsWith(ENVELOPE_PREFIX)) {
    if (!stored.startsWith(META_ENVELOPE_PREFIX)) return { text: stored, expiresAt: null, meta: undefined };
    withMeta = true;
  }
  // Read without slicing or a regular expression: this runs for every value read.
  let i = ENVELOPE_PREFIX.length;
  let expiresAt: number | undefined;
  if (stored.charCodeAt(i) === 110 /* n */ && stored.startsWith('null', i)) {
    i += 4;
  } else {
    const start = i;
    let value = 0;
    for (let code = stored.charCodeAt(i); code >= 48 && code <= 57; code = stored.charCodeAt(++i))
      value = value * 10 + (code - 48);
    checkInteger(stored, start, i);
    expiresAt = value;
  }
  let meta: EntryMeta | undefined;
  if (withMeta) {
    if (!stored.startsWith(META_LENGTH_MARK, i)) throw malformed();
    i += META_LENGTH_MARK.length;
    const begin = i;
    let length = 0;
    for (let code = stored.charCodeAt(i); code >= 48 && code <= 57; code = stored.charCodeAt(++i))
      length = length * 10 + (code - 48);
    checkInteger(stored, begin, i);
    const end = i;
    if (!stored.startsWith(META_MARK, end)) throw malformed();
    const start = end + META_MARK.length;
    meta = parseMeta(stored.slice(start, start + length));
    i = start + length;
  }
  if (!stored.startsWith(VALUE_MARK, i) || stored.charCodeAt(stored.length - 1) !== CLOSING_BRACE)
    throw malformed();
  return { text: stored.slice(i + VALUE_MARK.length, -1), expiresAt, meta };
}

/** The digits `text.slice(start, end)` are a JSON integer: no leading zero, at most 16 (past the year 275000). */
function checkInteger(text: string, start: number, end: number): void {
  const digits = end - start;
  if (digits === 0 || digits > 16 || (digits > 1 && text.charCodeAt(start) === 48)) throw malformed();
}

function parseMeta(json: string): EntryMeta {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch {
    throw malformed();
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw malformed();
  const { f, w, ver, lt, lu, tags, ph, uv } = raw as Record<string, unknown>;
  const meta: { -readonly [K in keyof EntryMeta]: EntryMeta[K] } = {};
  if (f !== undefined) meta.freshUntil = time(f);
  if (w !== undefined) meta.writtenAt = time(w);
  if (ver !== undefined) {
    if (typeof ver !== 'string') throw malformed();
    meta.version = ver;
  }
  if (lt !== undefined || lu !== undefined) {
    if (typeof lt !== 'string') throw malformed();
    meta.lease = { token: lt, until: time(lu) };
  }
  if (tags !== undefined) {
    if (tags === null || typeof tags !== 'object' || Array.isArray(tags)) throw malformed();
    const versions: Record<string, number> = {};
    for (const [tag, version] of Object.entries(tags)) {
      if (typeof version !== 'number' || !Number.isSafeInteger(version)) throw malformed();
      Object.defineProperty(versions, tag, {
        value: version,
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    meta.tags = versions;
  }
  if (ph !== undefined) {
    if (ph !== 1) throw malformed();
    meta.placeholder = true;
  }
  if (uv !== undefined) {
    if (uv !== 1) throw malformed();
    meta.unverified = true;
  }
  return meta;
}

function time(value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) throw malformed();
  return value;
}

function malformed(): SerializationError {
  return new SerializationError(
    '$',
    'the stored text begins like a Strata envelope but is not a well-formed one',
    {
      operation: 'decode',
    },
  );
}
