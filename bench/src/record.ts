/** The value every workload stores: a plain JSON record of about 220 bytes, as the figures assume. */
export interface BenchRecord {
  readonly id: number;
  readonly sku: string;
  readonly name: string;
  readonly email: string;
  readonly tags: readonly string[];
  readonly price: number;
  readonly stock: number;
  readonly active: boolean;
  readonly updatedAt: string;
}

/** The record stored under index `id`; equal indexes give equal (never identical) records. */
export function makeRecord(id: number): BenchRecord {
  const padded = String(id).padStart(7, '0');
  return {
    id,
    sku: `SKU-${padded}`,
    name: 'Augusta Ada King',
    email: `ada.lovelace+${padded}@example.com`,
    tags: ['analytical', 'engine', 'notes'],
    price: 1234.5,
    stock: id % 97,
    active: id % 2 === 0,
    updatedAt: '2025-11-25T14:00:00.000Z',
  };
}

/** The JSON text of {@link makeRecord}(`id`), as a plain JSON codec stores it. */
export function recordText(id: number): string {
  return JSON.stringify(makeRecord(id));
}

/** The size in bytes of a stored record (UTF-8 of its JSON text); about 220. */
export const RECORD_BYTES: number = Buffer.byteLength(recordText(1_234_567));

/** A read returned something other than the record it should have: the run is invalid. */
export class WrongAnswerError extends Error {
  override readonly name = 'WrongAnswerError';
}

/**
 * Checks that `value` is record `id`: its id, a string and its array. Cheap enough for the timed
 * loops (a few property reads, no allocation), and it catches a miss, a stale value, another key's value, or an
 * envelope a library forgot to unwrap.
 * @throws {WrongAnswerError} otherwise, naming `who` and what came back.
 */
export function checkRecord(value: unknown, id: number, who: string): void {
  const record = value as BenchRecord | undefined | null;
  if (
    typeof record !== 'object' ||
    record === null ||
    record.id !== id ||
    record.name !== 'Augusta Ada King' ||
    record.tags.length !== 3
  ) {
    throw new WrongAnswerError(
      `${who}: expected record ${id}, got ${JSON.stringify(value)?.slice(0, 120) ?? String(value)}`,
    );
  }
}
