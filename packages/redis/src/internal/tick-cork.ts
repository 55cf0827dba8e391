import type { Cluster, Redis } from 'ioredis';

interface Corkable {
  cork(): void;
  uncork(): void;
  readonly writable?: boolean;
}

/** Sockets written to in the current tick, and whether they are corked. */
const inTick = new WeakMap<object, 'written' | 'corked'>();

/**
 * Coalesces `client`'s socket writes within a tick. The first command of a tick is written at once (a lone call
 * waits for nothing); from the second on, writes are held until the tick ends and then sent in one system call: 64
 * commands issued by 64 concurrent calls cost two writes instead of 64, which on loopback is most of a command's
 * client cost. The order of writes is unchanged. A Cluster client has no socket of its own (its nodes'
 * connections are corked where Strata uses them directly). With `now`, the socket is corked from this call on: for
 * a caller about to write several commands at once.
 */
export function corkForTick(client: Redis | Cluster, now = false): void {
  if (client.isCluster) return;
  const stream = (client as unknown as { stream?: Partial<Corkable> }).stream;
  if (stream === undefined || typeof stream.cork !== 'function' || stream.writable === false) return;
  const state = inTick.get(stream);
  if (state === 'corked') return;
  if (state === undefined && !now) {
    inTick.set(stream, 'written');
    process.nextTick(() => {
      if (inTick.get(stream) === 'written') inTick.delete(stream);
    });
    return;
  }
  const socket = stream as Corkable;
  socket.cork();
  inTick.set(socket, 'corked');
  // Deferred twice, so that work queued for the end of this tick (gathered reads, invalidations published behind
  // writes) joins the same system call.
  process.nextTick(() =>
    process.nextTick(() => {
      inTick.delete(socket);
      socket.uncork();
    }),
  );
}
