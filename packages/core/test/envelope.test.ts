import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ENVELOPE_PREFIX, unwrapEntry, wrapEntry } from '../src/envelope.js';
import { SerializationError } from '../src/errors.js';

describe('the stored-entry envelope', () => {
  it('gives back exactly the text and the expiry it was given, for any text', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.json(), fc.string()),
        fc.option(fc.integer({ min: 0, max: 2 ** 52 }), { nil: undefined }),
        (text, expiresAt) => {
          expect(unwrapEntry(wrapEntry(text, expiresAt))).toEqual({ text, expiresAt });
        },
      ),
    );
  });

  it('holds any JSON text as JSON: the envelope parses, with the value and its expiry', () => {
    fc.assert(
      fc.property(
        fc.json(),
        fc.option(fc.integer({ min: 0, max: 2 ** 52 }), { nil: undefined }),
        (text, exp) => {
          expect(JSON.parse(wrapEntry(text, exp))).toEqual({ $s: 1, exp: exp ?? null, v: JSON.parse(text) });
        },
      ),
    );
  });

  it('is JSON that another program reads: the value under "v", the expiry (epoch ms) under "exp"', () => {
    const stored = wrapEntry('{"name":"Ada"}', 1_765_103_456_789.7);
    expect(stored).toBe('{"$s":1,"exp":1765103456789,"v":{"name":"Ada"}}');
    expect(JSON.parse(stored)).toEqual({ $s: 1, exp: 1_765_103_456_789, v: { name: 'Ada' } });
    expect(JSON.parse(wrapEntry('[1]', undefined))).toEqual({ $s: 1, exp: null, v: [1] });
  });

  it('returns a text without an envelope whole, with no expiry known', () => {
    for (const text of [
      '{"name":"Ada"}',
      '"{\\"$s\\":1,\\"exp\\":1"',
      '{"$s":3,"exp":1,"v":1}',
      '{ "$s":1,"exp":1,"v":1}',
    ])
      expect(unwrapEntry(text)).toEqual({ text, expiresAt: null });
  });

  it('refuses a text that begins like an envelope but is not a well-formed one', () => {
    for (const text of [
      ENVELOPE_PREFIX,
      `${ENVELOPE_PREFIX}12`,
      `${ENVELOPE_PREFIX}-1,"v":1}`,
      `${ENVELOPE_PREFIX}1.5,"v":1}`,
      `${ENVELOPE_PREFIX}01,"v":1}`,
      `${ENVELOPE_PREFIX}"1","v":1}`,
      `${ENVELOPE_PREFIX}1,"w":1}`,
      `${ENVELOPE_PREFIX}1,"v":1`,
      `${ENVELOPE_PREFIX}null,"v":1 `,
    ]) {
      expect(() => unwrapEntry(text), text).toThrow(SerializationError);
    }
  });
});

describe('the envelope with metadata (version 2)', () => {
  const metaArb = fc.record(
    {
      freshUntil: fc.integer({ min: 0, max: 2 ** 52 }),
      version: fc.string(),
      lease: fc.record({ token: fc.string(), until: fc.integer({ min: 0, max: 2 ** 52 }) }),
      tags: fc.dictionary(fc.string(), fc.integer()),
    },
    { requiredKeys: [] },
  );

  it('gives back exactly the text, the expiry and the metadata it was given', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.json(), fc.string()),
        fc.option(fc.integer({ min: 0, max: 2 ** 52 }), { nil: undefined }),
        metaArb,
        (text, expiresAt, meta) => {
          const stored = wrapEntry(text, expiresAt, meta);
          expect(stored.startsWith('{"$s":2,"exp":')).toBe(true);
          expect(unwrapEntry(stored)).toEqual({ text, expiresAt, meta });
        },
      ),
    );
  });

  it('is JSON another program reads: the metadata under "m", its length under "ml"', () => {
    const stored = wrapEntry('{"id":1}', 1_765_103_456_789, {
      freshUntil: 1_765_103_450_000,
      version: 'a1',
      tags: { 'user:42': 3 },
    });
    expect(stored).toBe(
      '{"$s":2,"exp":1765103456789,"ml":51,"m":{"f":1765103450000,"ver":"a1","tags":{"user:42":3}},"v":{"id":1}}',
    );
    const parsed = JSON.parse(stored) as { ml: number; m: unknown };
    expect(JSON.stringify(parsed.m).length).toBe(parsed.ml);
  });

  it('refuses metadata that is not well formed', () => {
    for (const text of [
      '{"$s":2,"exp":1,"ml":2,"m":[],"v":1}',
      '{"$s":2,"exp":1,"ml":9,"m":{"f":-1},"v":1}',
      '{"$s":2,"exp":1,"ml":11,"m":{"ver":1},"v":1}',
      '{"$s":2,"exp":1,"ml":99,"m":{},"v":1}',
      '{"$s":2,"exp":1,"m":{},"v":1}',
      '{"$s":2,"exp":1,"ml":15,"m":{"tags":{"a":1.5}},"v":1}',
    ]) {
      expect(() => unwrapEntry(text), text).toThrow(SerializationError);
    }
  });
});
