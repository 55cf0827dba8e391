/**
 * Checks a constructor's options object: an object whose every key is one of `known`, so that a misspelt option
 * fails loudly instead of being ignored.
 * @throws {TypeError} when `options` is not an object or names an unknown option.
 */
export function assertOptionNames(owner: string, options: unknown, known: ReadonlySet<string>): void {
  if (options === null || typeof options !== 'object')
    throw new TypeError(`${owner} needs an options object`);
  for (const name of Object.keys(options)) {
    if (!known.has(name)) throw new TypeError(`Unknown ${owner} option '${name}'`);
  }
}

/**
 * Checks an option that must be a positive whole number (a count, or milliseconds) and returns it.
 * @throws {TypeError} when it is not a safe integer.
 * @throws {RangeError} when it is below 1.
 */
export function positiveIntegerOption(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value))
    throw new TypeError(`${name} must be an integer, got ${String(value)}`);
  if (value < 1) throw new RangeError(`${name} must be at least 1, got ${value}`);
  return value;
}
