import { compileGlob } from '@strata-cache/core';

/** The calls a load makes. */
export type OpKind = 'get' | 'getMany' | 'set' | 'setMany' | 'delete' | 'deletePattern';

/** One call as the load saw it: when it was made, when it returned, and what it did or read. */
export interface OpRecord {
  readonly instance: number;
  readonly kind: OpKind;
  /** performance.now() at the call. */
  readonly start: number;
  /** performance.now() when it settled. */
  end: number;
  /** Resolved (acknowledged), or rejected (its effect on L2 is unknown). */
  ok: boolean;
  error?: unknown;
  /** Keys read, written or deleted (not those a pattern matched). */
  readonly keys: readonly string[];
  /** For set/setMany: the value written to each of `keys`; every value the load writes is unique. */
  readonly values?: readonly string[];
  readonly pattern?: string;
  /** For get/getMany: what was read for each key (undefined: a miss). */
  reads?: ReadonlyMap<string, unknown>;
}

/** A change of one key: a write of `value`, or a deletion (`value` undefined). */
interface Mutation {
  readonly key: string | undefined;
  readonly op: OpRecord | undefined;
  readonly value: string | undefined;
  readonly start: number;
  /** An acknowledged call took effect by its end; a failed one may take effect at any later time. */
  readonly effectEnd: number;
  readonly acked: boolean;
}

const INITIAL: Mutation = {
  key: undefined,
  op: undefined,
  value: undefined,
  start: Number.NEGATIVE_INFINITY,
  effectEnd: Number.NEGATIVE_INFINITY,
  acked: true,
};

/**
 * The calls of a load on a set of keys, and the checks that judge them against what L2 holds: a final L2 value
 * must be explained by the writes (nothing acknowledged lost), and a read must not return a value that an
 * acknowledged change had already replaced (staleness).
 */
export class History {
  readonly ops: OpRecord[] = [];
  #byKey: Map<string, Mutation[]> | undefined;
  #byValue: Map<string, Mutation> | undefined;
  readonly #supersededAt = new Map<Mutation, number>();

  /** Records a call made now; settle it with {@link History.settle}. */
  begin(record: Omit<OpRecord, 'start' | 'end' | 'ok'>): OpRecord {
    const op: OpRecord = { ...record, start: performance.now(), end: Number.NaN, ok: false };
    this.ops.push(op);
    this.#byKey = undefined;
    return op;
  }

  /** Marks `op` as settled now. */
  settle(op: OpRecord, ok: boolean, error?: unknown): void {
    op.end = performance.now();
    op.ok = ok;
    if (error !== undefined) op.error = error;
  }

  /** Every key a call named. */
  keys(): Set<string> {
    const keys = new Set<string>();
    for (const op of this.ops) for (const key of op.keys) keys.add(key);
    return keys;
  }

  /**
   * Why `finalValue`, read from L2 once everything settled, cannot be the last state of `key`; undefined if it
   * can. It can be if some change P produced it and no acknowledged change began after P could have taken effect.
   * `lostAckedAt` is when the last acknowledged change, the one L2 lost, was acknowledged.
   */
  finalStateProblem(key: string, finalValue: unknown): { message: string; lostAckedAt: number } | undefined {
    const mutations = this.#mutations(key);
    const acked = mutations.filter((m) => m.acked && m.op !== undefined);
    const latestAckedStart = Math.max(Number.NEGATIVE_INFINITY, ...acked.map((m) => m.start));
    const candidates = mutations.filter((m) => m.value === finalValue);
    if (candidates.some((m) => m.effectEnd >= latestAckedStart)) return undefined;
    const last = acked.find((m) => m.start === latestAckedStart)!;
    const described = last.value === undefined ? 'a deletion' : `value ${JSON.stringify(last.value)}`;
    const message =
      candidates.length === 0 && finalValue !== undefined
        ? `${key}: L2 holds ${JSON.stringify(finalValue)}, which no call wrote`
        : `${key}: L2 holds ${JSON.stringify(finalValue)}, but the acknowledged ${described} (${last.op?.kind} by ` +
          `instance ${last.op?.instance}) came later: an acknowledged change was lost`;
    return { message, lostAckedAt: last.effectEnd };
  }

  /**
   * How long before `read` began the value it returned for `key` had been replaced by an acknowledged change
   * (0 if it had not); `undefined` for a miss; `Infinity` for a value no call wrote.
   */
  staleness(read: OpRecord, key: string, value: unknown): number | undefined {
    if (value === undefined) return undefined;
    this.#mutations(key);
    const producer = typeof value === 'string' ? this.#byValue?.get(value) : undefined;
    // A value no call wrote, or one written to another key (a reply delivered to the wrong call), is a phantom.
    if (producer === undefined || producer.key !== key) return Number.POSITIVE_INFINITY;
    return Math.max(0, read.start - this.#replacedAt(key, producer));
  }

  /** When an acknowledged change of `key` that began after `m` took effect had certainly replaced `m`. */
  #replacedAt(key: string, m: Mutation): number {
    let at = this.#supersededAt.get(m);
    if (at === undefined) {
      at = Number.POSITIVE_INFINITY;
      for (const other of this.#mutations(key)) {
        if (other !== m && other.acked && other.start > m.effectEnd) at = Math.min(at, other.effectEnd);
      }
      this.#supersededAt.set(m, at);
    }
    return at;
  }

  #mutations(key: string): Mutation[] {
    if (this.#byKey === undefined) this.#index();
    return this.#byKey!.get(key) ?? [INITIAL];
  }

  #index(): void {
    const byKey = new Map<string, Mutation[]>();
    const byValue = new Map<string, Mutation>();
    this.#supersededAt.clear();
    const universe = [...this.keys()];
    const add = (key: string, m: Mutation): void => {
      let list = byKey.get(key);
      if (list === undefined) {
        list = [INITIAL];
        byKey.set(key, list);
      }
      list.push(m);
      if (m.value !== undefined) byValue.set(m.value, m);
    };
    for (const op of this.ops) {
      const base = {
        op,
        start: op.start,
        effectEnd: op.ok ? op.end : Number.POSITIVE_INFINITY,
        acked: op.ok,
      };
      if (op.kind === 'set' || op.kind === 'setMany') {
        for (const [i, key] of op.keys.entries()) add(key, { ...base, key, value: op.values![i]! });
      } else if (op.kind === 'delete') {
        for (const key of op.keys) add(key, { ...base, key, value: undefined });
      } else if (op.kind === 'deletePattern') {
        const matches = compileGlob(op.pattern!);
        for (const key of universe) if (matches(key)) add(key, { ...base, key, value: undefined });
      }
    }
    this.#byKey = byKey;
    this.#byValue = byValue;
  }
}
