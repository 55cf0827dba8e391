import type { Cluster, Redis } from 'ioredis';
import { keySlot } from './key-slot.js';

/** Keys of one hash slot, with their positions in the caller's list. */
export interface SlotGroup {
  readonly slot: number;
  readonly keys: string[];
  readonly positions: number[];
}

/** Groups `keys` by hash slot (Redis Cluster runs a multi-key command only within one slot). */
export function groupBySlot(keys: readonly string[]): SlotGroup[] {
  const groups = new Map<number, SlotGroup>();
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!;
    const slot = keySlot(key);
    let group = groups.get(slot);
    if (group === undefined) {
      group = { slot, keys: [], positions: [] };
      groups.set(slot, group);
    }
    group.keys.push(key);
    group.positions.push(i);
  }
  return [...groups.values()];
}

/** Slot groups that one master serves, with that master's own connection (`undefined`: slot not in the table). */
export interface MasterBatch {
  readonly node: Redis | undefined;
  readonly groups: SlotGroup[];
}

/**
 * Groups slot groups by the master that serves them, per the client's current slot table, so that each master
 * gets one round trip. Each batch carries the master's own connection: commands sent on it are routed by our slot
 * computation, not by ioredis's (whose `cluster-key-slot` hashes some brace patterns wrongly and then refuses or
 * misroutes a pipeline). Slots the table does not know yet form batches without a node.
 */
export function groupByMaster(cluster: Cluster, groups: readonly SlotGroup[]): MasterBatch[] {
  if (groups.length === 1) return [{ node: masterOfSlot(cluster, groups[0]!.slot), groups: [...groups] }];
  const byNode = new Map<string, MasterBatch>();
  for (const group of groups) {
    const owner = cluster.slots[group.slot]?.[0];
    const id = owner ?? `unknown:${group.slot}`;
    const batch = byNode.get(id);
    if (batch === undefined)
      byNode.set(id, {
        node: owner === undefined ? undefined : masterConnection(cluster, owner),
        groups: [group],
      });
    else batch.groups.push(group);
  }
  return [...byNode.values()];
}

/** The connection of the master serving `slot` per the client's slot table; `undefined` when none is known. */
export function masterOfSlot(cluster: Cluster, slot: number): Redis | undefined {
  const owner = cluster.slots[slot]?.[0];
  return owner === undefined ? undefined : masterConnection(cluster, owner);
}

/** Per Cluster client: its masters' connections by `host:port`, as last listed. */
const connectionsOf = new WeakMap<Cluster, Map<string, Redis>>();

/** The connection of the master at `owner` (`host:port`), listing the masters again when it is not known or closed. */
function masterConnection(cluster: Cluster, owner: string): Redis | undefined {
  let connections = connectionsOf.get(cluster);
  let node = connections?.get(owner);
  if (node === undefined || node.status === 'end' || node.status === 'close') {
    connections = new Map();
    for (const master of cluster.nodes('master'))
      connections.set(`${master.options.host}:${master.options.port}`, master);
    connectionsOf.set(cluster, connections);
    node = connections.get(owner);
  }
  return node;
}

/** The connection of the master serving `batch`; throws when no master is known for its slots. */
export function masterOf(batch: MasterBatch): Redis {
  if (batch.node === undefined) throw new Error(`no master known for slot ${batch.groups[0]!.slot}`);
  return batch.node;
}

/** One batch holding every key, for a standalone server. */
function singleBatch(client: Redis, fullKeys: readonly string[]): MasterBatch[] {
  return [{ node: client, groups: [{ slot: 0, keys: [...fullKeys], positions: fullKeys.map((_, i) => i) }] }];
}

/** The batches of `fullKeys`: per master on a Cluster, a single one on a standalone server. */
export function batchesOf(client: Redis | Cluster, fullKeys: readonly string[]): MasterBatch[] {
  return client.isCluster
    ? groupByMaster(client as Cluster, groupBySlot(fullKeys))
    : singleBatch(client as Redis, fullKeys);
}

/** On a Cluster, reloads the slot table (and the set of masters) from a node; never rejects. */
export function refreshSlots(client: Redis | Cluster): Promise<void> {
  if (!client.isCluster) return Promise.resolve();
  const cluster = client as Cluster;
  return new Promise((resolve) => cluster.refreshSlotsCache(() => resolve()));
}

/**
 * A Cluster redirection (MOVED or ASK, or a script refused a key its node does not serve): the command was not
 * executed, and the client's slot table is stale.
 */
export function isRedirection(error: unknown): boolean {
  return error instanceof Error && /^(?:MOVED|ASK) |non local key/.test(error.message);
}

/**
 * Runs `send` for the batches of `fullKeys`; on a Cluster redirection, reloads the slot table and runs it once
 * more. ioredis follows MOVED for single commands, but not for a pipeline (nor a command sent on a node's own
 * connection), and then never refreshes its slot table: after a failover, batches would fail forever. A redirected
 * command was not executed, so sending it again is safe.
 */
export async function withRedirects<R>(
  client: Redis | Cluster,
  fullKeys: readonly string[],
  send: (batches: MasterBatch[]) => Promise<R>,
): Promise<R> {
  let batches = batchesOf(client, fullKeys);
  // A slot the table does not know (a client still starting, a topology change): reload it before sending.
  if (batches.some((batch) => batch.node === undefined)) {
    await refreshSlots(client);
    batches = batchesOf(client, fullKeys);
  }
  try {
    return await send(batches);
  } catch (error) {
    if (!client.isCluster || !isRedirection(error)) throw error;
    await refreshSlots(client);
    return send(batchesOf(client, fullKeys));
  }
}

/** Every master's connection: where SCAN must run to see every key. */
export function masters(client: Redis | Cluster): Redis[] {
  return client.isCluster ? (client as Cluster).nodes('master') : [client as Redis];
}
