import { createHook } from 'node:async_hooks';

/** Resource types that outlive a closed cache if something forgot to release them. */
const TRACKED = new Set(['Timeout', 'TCPWRAP', 'TLSWRAP', 'TCPCONNECTWRAP', 'PIPEWRAP', 'Immediate']);

/**
 * Counts the timers and sockets created while it is on that are still alive, unref'd ones included (which
 * `process.getActiveResourcesInfo()` does not list, since they do not keep the event loop alive).
 */
export class ResourceTracker {
  readonly #live = new Map<number, string>();
  #recording = true;
  readonly #hook = createHook({
    init: (id, type) => {
      if (this.#recording && TRACKED.has(type)) this.#live.set(id, type);
    },
    destroy: (id) => {
      this.#live.delete(id);
    },
  });

  start(): this {
    this.#hook.enable();
    return this;
  }

  /** Stops recording new resources (the test's own waits), while still seeing tracked ones go. */
  freeze(): void {
    this.#recording = false;
  }

  stop(): void {
    this.#hook.disable();
  }

  /** Live tracked resources by type, e.g. `{ Timeout: 2 }`. */
  live(): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const type of this.#live.values()) counts[type] = (counts[type] ?? 0) + 1;
    return counts;
  }
}

/** Counts of `process.getActiveResourcesInfo()` by type. */
export function activeResources(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const type of process.getActiveResourcesInfo()) counts[type] = (counts[type] ?? 0) + 1;
  return counts;
}

/** Listener counts on `process` for every event it has listeners for. */
export function processListeners(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const name of process.eventNames()) counts[String(name)] = process.listenerCount(name);
  return counts;
}

/** The types whose count in `after` is higher than in `before`, with the increase. */
export function grown(before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  const increase: Record<string, number> = {};
  for (const [type, count] of Object.entries(after)) {
    if (count > (before[type] ?? 0)) increase[type] = count - (before[type] ?? 0);
  }
  return increase;
}
