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
const EXPIRY = /^(?:0|[1-9][0-9]{0,15})$/;

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
  const comma = stored.indexOf(',', ENVELOPE_PREFIX.length);
  const expiry = comma < 0 ? '' : stored.slice(ENVELOPE_PREFIX.length, comma);
  if (
    !stored.startsWith(VALUE_MARK, comma) ||
    stored.charCodeAt(stored.length - 1) !== CLOSING_BRACE ||
    (expiry !== 'null' && !EXPIRY.test(expiry))
  ) {
    throw new SerializationError(
      '$',
      'the stored text begins like a Strata envelope but is not a well-formed one',
    );
  }
  return {
    text: stored.slice(comma + VALUE_MARK.length, -1),
    expiresAt: expiry === 'null' ? undefined : Number(expiry),
  };
}
