import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileGlob, escapeGlob, matchGlob } from '../src/glob.js';

type Case = readonly [pattern: string, key: string, expected: boolean];

/**
 * Every row was checked against redis-server 7.0.15 (Debian 7.0.15-1~deb12u10) with `SET key` then
 * `SCAN 0 MATCH pattern`; the expected column is what Redis answered, quirks included.
 */
const REDIS_CASES: readonly Case[] = [
  // Empty pattern / empty key; SCAN special-cases exactly `*`, stringmatchlen never matches '' otherwise.
  ['', '', true],
  ['', 'a', false],
  ['*', '', true],
  ['**', '', false],
  ['*', 'abc', true],
  ['a*', 'a', true],
  ['a*', 'ab', true],
  ['*a', 'ba', true],
  ['*a', 'ab', false],
  ['a**b', 'ab', true],
  ['a**b', 'axyb', true],
  ['***', 'x', true],
  ['h*llo', 'hllo', true],
  ['h*llo', 'heeeello', true],
  ['*\\', 'x\\', true],
  // `?` is one byte of UTF-8, not one character.
  ['?', '', false],
  ['?', 'a', true],
  ['??', 'a', false],
  ['?', 'é', false],
  ['??', 'é', true],
  ['???', '€', true],
  ['?', '𝄞', false],
  ['????', '𝄞', true],
  ['h?llo', 'hello', true],
  ['h?llo', 'hllo', false],
  ['a?b', 'a\u0000b', true],
  // Classes, negation, ranges (reversed ranges are normalised).
  ['[abc]', 'b', true],
  ['[abc]', 'd', false],
  ['[abc]', '', false],
  ['[^a]', 'a', false],
  ['[^a]', 'b', true],
  ['[^a]', '', false],
  ['[^a]', 'é', false],
  ['[^a]?', 'é', true],
  ['[a-z]', 'm', true],
  ['[a-z]', 'A', false],
  ['[z-a]', 'm', true],
  ['[z-a]', 'z', true],
  ['[a-a]', 'a', true],
  ['[-a]', '-', true],
  ['[-a]', 'a', true],
  // `[a-]` is the range `]`..`a` and the class then runs on past the `]` to the end of the pattern.
  ['[a-]', 'a', true],
  ['[a-]', ']', true],
  ['[a-]', '_', true],
  ['[a-]', '-', false],
  ['[a-]', 'b', false],
  ['[a-]b', 'b', true],
  ['[a-]b', 'a', true],
  ['[a-]x', 'ax', false],
  // `]` right after `[` closes an empty class that matches nothing.
  ['[]]', ']', false],
  ['[]]', '', false],
  ['[]a]', ']', false],
  ['[]a]', 'a', false],
  ['[]a]', 'a]', false],
  ['[]', ']', false],
  ['[]', '', false],
  ['[]x', 'x', false],
  ['[]x', ']x', false],
  ['[^]', 'x', true],
  ['[^]', ']', true],
  // Backslash inside classes.
  ['[\\]]', ']', true],
  ['[\\]a]', 'a', true],
  ['[\\-]', '-', true],
  ['[\\-]', '\\', false],
  ['[a\\-z]', '-', true],
  ['[a\\-z]', 'm', false],
  ['[\\\\]', '\\', true],
  ['[^\\]]', ']', false],
  ['[^\\]]', 'x', true],
  ['[\\', '\\', true],
  ['[\\', 'x', false],
  ['a[\\', 'a\\', true],
  // Unterminated classes end at the end of the pattern; an empty one matches nothing, `[^` anything.
  ['[abc', 'a', true],
  ['[abc', 'c', true],
  ['[abc', 'd', false],
  ['[abc', 'ab', false],
  ['[a-', 'a', true],
  ['[a-', '-', true],
  ['[a-b', 'b', true],
  ['[a-b', '-', false],
  ['[', '', false],
  ['[', '[', false],
  ['[', 'x', false],
  ['a[', 'a', false],
  ['a[', 'ab', false],
  ['a[', 'a[', false],
  ['[^', 'x', true],
  ['[^', '', false],
  ['a[^', 'ab', true],
  // Backslash outside classes; a trailing one is a literal backslash.
  ['\\*', '*', true],
  ['\\*', 'a', false],
  ['\\?', '?', true],
  ['\\?', 'a', false],
  ['\\[a]', '[a]', true],
  ['\\[a]', 'a', false],
  ['\\a', 'a', true],
  ['\\\\', '\\', true],
  ['\\', '\\', true],
  ['\\', '', false],
  ['a\\', 'a\\', true],
  ['a\\', 'a', false],
  ['\\é', 'é', true],
  // Bytes >= 0x80 are negative C chars: `[a-é]` is the byte range 0xC3..0xFF plus 0x00..0x61, and 0xA9.
  ['[a-é]', 'é', false],
  ['[a-é]?', 'é', true],
  ['[é-a]?', 'é', true],
  ['[a-é]', '\u0000', true],
  ['[a-é]', 'b', false],
  ['[a-é]??', '€', true],
  ['[a-ÿ]?', 'é', true],
  ['[\u0080-\u07ff]?', 'é', true],
  ['[\u0080-z]', 'a', true],
  ['[\u0080-z]?', 'é', true],
  ['[\u007f-\u0080]', '\u007f', true],
  ['[\u007f-\u0080]?', '\u0080', true],
  ['[é-ÿ]?', 'é', true],
  // A multi-byte character in a class is a set of its bytes, each matching one byte.
  ['[é]', 'é', false],
  ['[é]?', 'é', true],
  ['?[é]', 'é', true],
  ['[éa]?', 'é', true],
  ['[^é]?', 'é', false],
  ['[^é]?', 'ÿ', false],
  // NUL is an ordinary byte inside the pattern and the key.
  ['a\u0000b', 'a\u0000b', true],
  ['[\u0000]', '\u0000', true],
  ['[\u0000-a]', '\u0000', true],
];

/** `count` star groups: `*a*a...` (none trailing) or `a*a*...` (the last one trailing). */
function stars(count: number, trailing: boolean): string {
  return (trailing ? 'a*' : '*a').repeat(count);
}

/** Characters that make the matcher's branches (classes, ranges, escapes, multi-byte, NUL) likely. */
const RICH = [...'*?[]^-\\abcéÿ€𝄞\u0000\u007f\u0080'];
const richString = (maxLength: number): fc.Arbitrary<string> =>
  fc.string({ unit: fc.constantFrom(...RICH), maxLength });

/** Keys that a pattern is likely to match: stars become short runs, `?` and classes one character. */
function instantiate(pattern: string, fill: readonly string[]): string {
  const chars = [...pattern];
  let key = '';
  let f = 0;
  for (let i = 0; i < chars.length; i++) {
    const ch = chars[i]!;
    if (ch === '*') key += fill[f++ % Math.max(fill.length, 1)] ?? '';
    else if (ch === '?' || ch === '[') key += fill[f++ % Math.max(fill.length, 1)]?.slice(0, 1) ?? 'a';
    else if (ch === '\\' && i + 1 < chars.length) key += chars[++i]!;
    else key += ch;
  }
  return key;
}

describe('matchGlob', () => {
  it.each(REDIS_CASES)('%j matches %j: %s (as redis-server does)', (pattern, key, expected) => {
    expect(matchGlob(pattern, key)).toBe(expected);
  });

  it('caps nesting at 1000 star groups as Redis does (a trailing star needs no recursion)', () => {
    expect(matchGlob(stars(1000, false), 'a'.repeat(1000))).toBe(true);
    expect(matchGlob(stars(1001, false), 'a'.repeat(1001))).toBe(false);
    expect(matchGlob(stars(1001, true), 'a'.repeat(1001))).toBe(true);
    expect(matchGlob(stars(1002, true), 'a'.repeat(1002))).toBe(false);
    expect(matchGlob('*?'.repeat(1001), 'x'.repeat(1001))).toBe(false);
  });

  it('collapses consecutive stars, so a long run of them is one group', () => {
    expect(matchGlob('*'.repeat(3000), 'x')).toBe(true);
    expect(matchGlob(`a${'*'.repeat(3000)}b`, 'axxb')).toBe(true);
  });

  it('finishes a pathological pattern fast (skipLongerMatches)', { timeout: 2_000 }, () => {
    const pattern = '*a*a*a*a*a*a*a*a*b';
    expect(matchGlob(pattern, 'a'.repeat(50_000))).toBe(false);
    expect(matchGlob(pattern, `${'a'.repeat(50_000)}b`)).toBe(true);
    expect(compileGlob(pattern)('a'.repeat(50_000))).toBe(false);
  });
});

describe('compileGlob', () => {
  it.each(REDIS_CASES)('%j matches %j: %s (as redis-server does)', (pattern, key, expected) => {
    expect(compileGlob(pattern)(key)).toBe(expected);
  });

  it('reuses its key buffer correctly across long, short, ASCII and non-ASCII keys', () => {
    const matches = compileGlob('?b[c-d]*');
    expect(matches(`abc${'é'.repeat(5_000)}`)).toBe(true);
    expect(matches('abd')).toBe(true);
    expect(matches('ab')).toBe(false);
    expect(matches('éb')).toBe(false);
    expect(matches(`abc${'x'.repeat(10_000)}`)).toBe(true);
  });

  it('handles literal and prefix patterns, escaped namespaces included', () => {
    const prefix = compileGlob(`${escapeGlob('n[s]*')}:user:*`);
    expect(prefix('n[s]*:user:1')).toBe(true);
    expect(prefix('n[s]*:user:')).toBe(true);
    expect(prefix('ns:user:1')).toBe(false);
    expect(compileGlob('user\\:é')('user:é')).toBe(true);
    expect(compileGlob('user:é')('user:éé')).toBe(false);
    expect(compileGlob('x\\𝄞*')('x𝄞y')).toBe(true);
  });

  it('agrees with matchGlob on patterns and keys over a rich alphabet', () => {
    fc.assert(
      fc.property(
        richString(10),
        fc.array(richString(6), { maxLength: 4 }),
        fc.array(richString(3), { maxLength: 4 }),
        (pattern, keys, fill) => {
          const matches = compileGlob(pattern);
          for (const key of [...keys, instantiate(pattern, fill), pattern]) {
            expect(matches(key)).toBe(matchGlob(pattern, key));
          }
        },
      ),
      { numRuns: 3_000 },
    );
  });
});

describe('escapeGlob', () => {
  it('escapes exactly `* ? [ ] \\`', () => {
    expect(escapeGlob('a*b?c[d]e\\f')).toBe('a\\*b\\?c\\[d\\]e\\\\f');
    expect(escapeGlob('^-:é')).toBe('^-:é');
    expect(escapeGlob('')).toBe('');
  });

  it('produces a pattern that matches its literal', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (literal) => {
        expect(matchGlob(escapeGlob(literal), literal)).toBe(true);
        expect(compileGlob(escapeGlob(literal))(literal)).toBe(true);
      }),
      { numRuns: 1_000 },
    );
  });

  it('produces a pattern that matches no other string of the same length', () => {
    const sameLength = (unit: fc.Arbitrary<string>): fc.Arbitrary<[string, string]> =>
      fc
        .nat({ max: 8 })
        .chain((n) =>
          fc.tuple(
            fc.string({ unit, minLength: n, maxLength: n }),
            fc.string({ unit, minLength: n, maxLength: n }),
          ),
        );
    const distinctPair = fc.oneof(
      sameLength(fc.constantFrom(...RICH)),
      sameLength(fc.string({ unit: 'binary', minLength: 1, maxLength: 1 })),
    );
    fc.assert(
      fc.property(distinctPair, ([literal, other]) => {
        expect(matchGlob(escapeGlob(literal), other)).toBe(literal === other);
        expect(compileGlob(escapeGlob(literal))(other)).toBe(literal === other);
      }),
      { numRuns: 2_000 },
    );
  });
});
