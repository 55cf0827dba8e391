import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cloneJson } from '../src/value-reader.js';

/** Every object and array reachable from `value`. */
function containers(value: unknown, found: Set<object> = new Set()): Set<object> {
  if (typeof value === 'object' && value !== null && !found.has(value)) {
    found.add(value);
    for (const child of Object.values(value)) containers(child, found);
  }
  return found;
}

describe('cloneJson', () => {
  it('copies any parsed JSON into exactly what parsing it again gives, sharing no object with it', () => {
    fc.assert(
      fc.property(fc.json({ maxDepth: 6 }), (text) => {
        const parsed: unknown = JSON.parse(text);
        const copy = cloneJson(parsed);
        expect(copy).toStrictEqual(JSON.parse(text));
        // The same keys in the same order, all the way down.
        expect(JSON.stringify(copy)).toBe(JSON.stringify(parsed));
        const originals = containers(parsed);
        for (const object of containers(copy)) expect(originals.has(object)).toBe(false);
      }),
    );
  });

  it('keeps a parsed "__proto__" key an own property, and never changes a prototype', () => {
    const text = '{"__proto__":{"polluted":true},"a":[{"__proto__":[1]}]}';
    const copy = cloneJson(JSON.parse(text)) as Record<string, unknown>;
    expect(Object.getPrototypeOf(copy)).toBe(Object.prototype);
    expect(Object.hasOwn(copy, '__proto__')).toBe(true);
    expect(Object.getOwnPropertyDescriptor(copy, '__proto__')?.value).toEqual({ polluted: true });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(JSON.stringify(copy)).toBe(text);
  });

  it('copies only own properties, even when Object.prototype has gained an enumerable one', () => {
    const parsed = JSON.parse('{"a":{"b":1}}') as object;
    Object.defineProperty(Object.prototype, 'injected', {
      value: { x: 1 },
      enumerable: true,
      configurable: true,
      writable: true,
    });
    try {
      const copy = cloneJson(parsed);
      expect(Object.keys(copy)).toEqual(['a']);
      expect(Object.hasOwn(copy, 'injected')).toBe(false);
    } finally {
      delete (Object.prototype as Record<string, unknown>).injected;
    }
  });

  it('throws a RangeError for a tree nested deeper than the stack allows', () => {
    const deep = JSON.parse(`${'['.repeat(100_000)}${']'.repeat(100_000)}`) as unknown;
    expect(() => cloneJson(deep)).toThrow(RangeError);
  });
});
