import { SerializationError } from '@strata-cache/core';

/**
 * How a value Strata writes is stored in Redis (docs/codec.md, "In Redis"): the codec's text inside a small
 * versioned JSON envelope that carries the value's absolute expiry in Redis's clock (epoch ms, or `null` for
 * none), so that a reader learns how long the value lives without a PTTL:
 *
 * `{"$s":1,"exp":1765103456789,"v":<the codec's text>}`
 *
 * The envelope's first bytes are fixed, so it is recognised, and the value's text cut out of it, without parsing
 * it. A text that does not begin so (written by an older version, by another program, or with
 * `valueFormat: 'plain'`) is the codec's text itself.
 */
export const ENVELOPE_PREFIX = '{"$s":1,"exp":';

const VALUE_MARK = ',"v":';
const CLOSING_BRACE = 0x7d;

/** A stored text taken apart: the codec's text, and the absolute expiry the envelope carried. */
export interface Unwrapped {
  /** The codec's text of the value. */
  readonly text: string;
  /** Epoch ms (Redis's clock) after which the value is gone; `undefined`: no expiry; `null`: not enveloped. */
  readonly expiresAt: number | undefined | null;
}

/** `text` (the codec's) inside an envelope carrying `expiresAt` (epoch ms in Redis's clock; `undefined`: none). */
export function wrapEntry(text: string, expiresAt: number | undefined): string {
  return `${ENVELOPE_PREFIX}${expiresAt === undefined ? 'null' : Math.floor(expiresAt)}${VALUE_MARK}${text}}`;
}

/**
 * The codec's text and expiry of a stored text; a text without an envelope is returned whole, with `expiresAt`
 * `null`.
 * @throws {SerializationError} for a text that begins like an envelope but is not a well-formed one.
 */
export function unwrapEntry(stored: string): Unwrapped {
  if (!stored.startsWith(ENVELOPE_PREFIX)) return { text: stored, expiresAt: null };
  // Read without slicing or a regular expression: this runs for every value read.
  let i = ENVELOPE_PREFIX.length;
  let expiresAt: number | undefined;
  if (stored.startsWith('null', i)) {
    i += 4;
  } else {
    let digits = 0;
    let value = 0;
    for (let code = stored.charCodeAt(i); code >= 48 && code <= 57; code = stored.charCodeAt(++i)) {
      value = value * 10 + (code - 48);
      digits++;
    }
    // JSON has no leading zeros; 16 digits reach past the year 275000.
    if (digits === 0 || digits > 16 || (digits > 1 && stored.charCodeAt(i - digits) === 48))
      throw malformed();
    expiresAt = value;
  }
  if (!stored.startsWith(VALUE_MARK, i) || stored.charCodeAt(stored.length - 1) !== CLOSING_BRACE)
    throw malformed();
  return { text: stored.slice(i + VALUE_MARK.length, -1), expiresAt };
}

function malformed(): SerializationError {
  return new SerializationError(
    '$',
    'the stored text begins like a Strata envelope but is not a well-formed one',
    { operation: 'decode' },
  );
}
