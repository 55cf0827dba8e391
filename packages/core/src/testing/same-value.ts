import { expect } from 'vitest';

function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value !== 'object') return typeof value;
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto === null) return 'Object(null prototype)';
  return (
    Object.prototype.toString.call(value).slice(8, -1) +
    (proto === Object.prototype
      ? ''
      : `<${(proto as { constructor?: { name?: string } }).constructor?.name ?? '?'}>`)
  );
}

/**
 * The first difference between `actual` and `expected` under exact equality (same prototypes, `Object.is` for
 * numbers so `-0` and `NaN` count, Map and Set order included), as a path and a reason; `undefined` when equal.
 * Unlike Vitest's `toStrictEqual`, an own property named `constructor` is compared as data.
 */
export function firstDifference(actual: unknown, expected: unknown, path = '$'): string | undefined {
  if (Object.is(actual, expected)) return undefined;
  const [ta, te] = [typeName(actual), typeName(expected)];
  if (ta !== te) return `${path}: expected ${te}, got ${ta}`;
  if (typeof actual !== 'object' || actual === null)
    return `${path}: expected ${String(expected)}, got ${String(actual)}`;
  if (actual instanceof Date) {
    return Object.is(actual.getTime(), (expected as Date).getTime()) ? undefined : `${path}: dates differ`;
  }
  if (actual instanceof Uint8Array) {
    const e = expected as Uint8Array;
    return actual.length === e.length && actual.every((b, i) => b === e[i])
      ? undefined
      : `${path}: bytes differ`;
  }
  if (actual instanceof Map || actual instanceof Set) {
    const a = [...actual.entries()];
    const e = [...(expected as Map<unknown, unknown> | Set<unknown>).entries()];
    if (a.length !== e.length) return `${path}: size ${a.length}, expected ${e.length}`;
    for (let i = 0; i < a.length; i++) {
      const d = firstDifference(a[i], e[i], `${path}<entry ${i}>`);
      if (d !== undefined) return d;
    }
    return undefined;
  }
  if (Array.isArray(actual)) {
    const e = expected as unknown[];
    if (actual.length !== e.length) return `${path}: length ${actual.length}, expected ${e.length}`;
    for (let i = 0; i < e.length; i++) {
      if (i in actual !== i in e) return `${path}[${i}]: hole mismatch`;
      const d = firstDifference(actual[i], e[i], `${path}[${i}]`);
      if (d !== undefined) return d;
    }
    return undefined;
  }
  const a = actual as Record<string, unknown>;
  const e = expected as Record<string, unknown>;
  const [ka, ke] = [Object.keys(a), Object.keys(e)];
  const missing = ke.filter((k) => !Object.hasOwn(a, k));
  const extra = ka.filter((k) => !Object.hasOwn(e, k));
  if (missing.length > 0 || extra.length > 0)
    return `${path}: keys missing ${JSON.stringify(missing)}, extra ${JSON.stringify(extra)}`;
  for (const k of ke) {
    const d = firstDifference(a[k], e[k], `${path}[${JSON.stringify(k)}]`);
    if (d !== undefined) return d;
  }
  return undefined;
}

/** Asserts that `actual` equals `expected` exactly (see {@link firstDifference}). */
export function expectSameValue(actual: unknown, expected: unknown): void {
  const difference = firstDifference(actual, expected);
  expect(difference, difference).toBeUndefined();
}
