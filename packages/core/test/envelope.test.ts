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
