import { expect } from 'vitest';
import { CacheValidationError, SerializationError } from '../errors.js';

/** Asserts that `promise` rejects with a `CacheValidationError` naming `argument` (a prefix, e.g. `'keys'`). */
export async function expectValidationError(promise: Promise<unknown>, argument: string): Promise<void> {
  const error = await promise.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(error, `expected a CacheValidationError naming ${argument}`).toBeInstanceOf(CacheValidationError);
  expect((error as CacheValidationError).argument.startsWith(argument)).toBe(true);
}

/** Asserts that `promise` rejects with a `SerializationError`. */
export async function expectSerializationError(promise: Promise<unknown>): Promise<void> {
  const error = await promise.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(error, 'expected a SerializationError').toBeInstanceOf(SerializationError);
}
