/**
 * A byte-exact port of Redis 7.0.15's glob matcher (`stringmatchlen_impl` in `src/util.c`, nocase = 0) as used
 * by `SCAN ... MATCH` and `KEYS`, so that every adapter selects exactly the keys Redis would.
 *
 * Redis matches the UTF-8 bytes, not characters: `?` and each `[...]` consume one byte.
 */

/**
 * Redis gives up (no match) once more than this many `*` groups are nested. The cap came with CVE-2024-31228
 * (7.2.6 / 6.2.16) and is in the Debian 7.0.15 build (backported in 7.0.15-1~deb12u2) that this port was checked
 * against; without it such patterns overflow the C stack.
 */
const MAX_NESTING = 1000;

const STAR = 0x2a;
const QUESTION = 0x3f;
const OPEN = 0x5b;
const BACKSLASH = 0x5c;
const CLOSE = 0x5d;
const CARET = 0x5e;
const DASH = 0x2d;
const ASCII_LIMIT = 0x80;

const ENCODER = new TextEncoder();
const METACHARACTERS = /[*?[\]\\]/g;

/** Reusable byte buffer for keys, so that matching many keys does not allocate one array per key. */
let scratch = new Uint8Array(256);

/** The state of one match: the pattern (NUL-terminated, as an sds string is) and the key bytes. */
interface Match {
  readonly pattern: Uint8Array;
  readonly patternLength: number;
  key: Uint8Array;
  keyLength: number;
  /** Redis's `skipLongerMatches` flag, shared by every level of the recursion. */
  skipLongerMatches: boolean;
}

/** Reads `byte` as x86-64's signed C `char`: Redis compares range ends and the key byte as `int` from `char`. */
function signedChar(byte: number): number {
  return (byte << 24) >> 24;
}

/** UTF-8 bytes of `pattern` plus a trailing NUL: the C code reads one byte past the end and must see 0 there. */
function encodePattern(pattern: string): Uint8Array {
  const bytes = ENCODER.encode(pattern);
  const terminated = new Uint8Array(bytes.length + 1);
  terminated.set(bytes);
  return terminated;
}

/** Puts the UTF-8 bytes of `key` into `scratch` (no encoder for ASCII keys) and returns their count. */
function loadKey(key: string): number {
  const length = key.length;
  if (scratch.length < length * 3) scratch = new Uint8Array(Math.max(length * 3, scratch.length * 2));
  for (let i = 0; i < length; i++) {
    const code = key.charCodeAt(i);
    if (code >= ASCII_LIMIT) return ENCODER.encodeInto(key, scratch).written;
    scratch[i] = code;
  }
  return length;
}

/**
 * `stringmatchlen_impl`: `pi` and `si` index the pattern and the key (C's `patternLen` is `patternLength - pi`).
 * `m.pattern[m.patternLength]` is the NUL terminator, so reads one past the end behave as in C.
 */
function matchFrom(m: Match, pi: number, si: number, nesting: number): boolean {
  if (nesting > MAX_NESTING) return false;
  const p = m.pattern;
  const pEnd = m.patternLength;
  const s = m.key;
  const sEnd = m.keyLength;
  while (pi < pEnd && si < sEnd) {
    const op = p[pi]!;
    if (op === STAR) {
      while (p[pi + 1] === STAR) pi++;
      if (pi + 1 === pEnd) return true;
      for (; si < sEnd; si++) {
        if (matchFrom(m, pi + 1, si, nesting + 1)) return true;
        if (m.skipLongerMatches) return false;
      }
      // The rest of the pattern matches no suffix of the key, so no earlier `*` can help by eating more:
      // everything between two stars has a fixed byte length, so that would only start the rest later.
      m.skipLongerMatches = true;
      return false;
    }
    if (op === QUESTION) {
      si++;
    } else if (op === OPEN) {
      pi++;
      const negate = p[pi] === CARET;
      if (negate) pi++;
      const c = s[si]!;
      let matched = false;
      for (;;) {
        const b = p[pi]!;
        if (b === BACKSLASH && pEnd - pi >= 2) {
          pi++;
          if (p[pi] === c) matched = true;
        } else if (b === CLOSE) {
          break;
        } else if (pi === pEnd) {
          // Unterminated class: Redis steps back onto the last byte so the `pi++` below lands on the end.
          pi--;
          break;
        } else if (pEnd - pi >= 3 && p[pi + 1] === DASH) {
          // `[a-]`, `[x-\]` and the like are ranges too: the end is whatever byte follows the dash, even `]`.
          let start = signedChar(b);
          let end = signedChar(p[pi + 2]!);
          if (start > end) [start, end] = [end, start];
          const sc = signedChar(c);
          if (sc >= start && sc <= end) matched = true;
          pi += 2;
        } else if (b === c) {
          matched = true;
        }
        pi++;
      }
      if (matched === negate) return false;
      si++;
    } else {
      // A trailing backslash is a literal backslash; otherwise it makes the next byte literal.
      if (op === BACKSLASH && pEnd - pi >= 2) pi++;
      if (p[pi] !== s[si]) return false;
      si++;
    }
    pi++;
    if (si === sEnd) {
      while (p[pi] === STAR) pi++;
      break;
    }
  }
  return pi === pEnd && si === sEnd;
}

function run(m: Match): boolean {
  m.skipLongerMatches = false;
  return matchFrom(m, 0, 0, 0);
}

/**
 * A pattern that is a literal (escapes allowed) optionally followed by stars only, or `null` for anything else.
 * Such patterns are string equality or `startsWith`: UTF-8 is a prefix code, so byte prefixes of whole
 * characters are string prefixes.
 */
function literalShape(pattern: string): { literal: string; star: boolean } | null {
  let literal = '';
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i]!;
    if (ch === '?' || ch === '[') return null;
    if (ch === '*') {
      for (let j = i + 1; j < pattern.length; j++) if (pattern[j] !== '*') return null;
      return { literal, star: true };
    }
    if (ch === '\\' && i + 1 < pattern.length) {
      // Redis escapes one byte; the rest of a multi-byte character is literal anyway, so escape the char.
      const code = pattern.codePointAt(i + 1)!;
      const width = code > 0xffff ? 2 : 1;
      literal += pattern.slice(i + 1, i + 1 + width);
      i += width;
    } else {
      literal += ch;
    }
  }
  return { literal, star: false };
}

/** True when `key` matches the Redis glob `pattern` exactly as Redis 7 SCAN MATCH would. */
export function matchGlob(pattern: string, key: string): boolean {
  // SCAN and KEYS skip matching for exactly `*`; stringmatchlen itself says `*` does not match the empty key.
  if (pattern === '*') return true;
  const encoded = encodePattern(pattern);
  const keyBytes = ENCODER.encode(key);
  return run({
    pattern: encoded,
    patternLength: encoded.length - 1,
    key: keyBytes,
    keyLength: keyBytes.length,
    skipLongerMatches: false,
  });
}

/** Pre-compiles `pattern` (UTF-8 encode once) into a predicate to test many keys; fast path for ASCII-only keys that avoids encoding them. */
export function compileGlob(pattern: string): (key: string) => boolean {
  if (pattern === '*') return () => true;
  const shape = literalShape(pattern);
  if (shape !== null) {
    const { literal } = shape;
    if (!shape.star) return (key) => key === literal;
    // `**` and longer still go through stringmatchlen, which never matches the empty key.
    if (literal === '') return (key) => key.length > 0;
    return (key) => key.startsWith(literal);
  }
  const encoded = encodePattern(pattern);
  const m: Match = {
    pattern: encoded,
    patternLength: encoded.length - 1,
    key: scratch,
    keyLength: 0,
    skipLongerMatches: false,
  };
  return (key) => {
    m.keyLength = loadKey(key);
    m.key = scratch;
    return run(m);
  };
}

/** Escapes every glob metacharacter (`* ? [ ] \`) of `literal` with a backslash so that the result matches exactly `literal` (used to build `<escaped namespace>:<pattern>` for Redis SCAN MATCH). */
export function escapeGlob(literal: string): string {
  return literal.replace(METACHARACTERS, '\\$&');
}
