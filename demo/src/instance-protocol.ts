import type { TieredCacheStats } from '@strata-cache/tiered';

/** What the demo's parent asks one of its instance processes to do (over the IPC channel of `fork`). */
export type Request =
  | { readonly op: 'set'; readonly key: string; readonly value: unknown }
  | { readonly op: 'get'; readonly key: string }
  | { readonly op: 'arm'; readonly key: string }
  | { readonly op: 'awaitInvalidation' }
  | { readonly op: 'stats' }
  | { readonly op: 'close'; readonly clear: boolean };

/** What the instance answers, per request. */
export interface Replies {
  /** `start`/`end`: when `set` was called and when it resolved, on the shared wall clock in ms (µs precision). */
  set: { start: number; end: number };
  get: Read;
  arm: null;
  /** `at`: when the invalidation was applied; `read`: a `get` of the key made right after. */
  awaitInvalidation: { at: number; read: Read };
  stats: TieredCacheStats;
  close: null;
}

/** A read and the tier that answered it. */
export interface Read {
  readonly value: unknown;
  readonly from: 'L1' | 'L2' | 'miss';
}

/** A request on the wire, with the id its reply carries. */
export type Envelope = Request & { readonly id: number };

/** A reply on the wire. */
export type ReplyEnvelope =
  | { readonly id: number; readonly ok: true; readonly result: unknown }
  | { readonly id: number; readonly ok: false; readonly error: string };

/** A wall-clock time in ms with µs precision, comparable across processes on one machine. */
export function preciseNow(): number {
  return performance.timeOrigin + performance.now();
}
