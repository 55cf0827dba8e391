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

/**
 * Groups slot groups by the master that serves them, per the client's current slot table, so that each master
 * gets one pipeline (one round trip). Slots the table does not know yet go to a group of their own, routed by
 * the cluster client (which follows MOVED).
 */
export function groupByMaster(cluster: Cluster, groups: readonly SlotGroup[]): SlotGroup[][] {
  const byNode = new Map<string, SlotGroup[]>();
  for (const group of groups) {
    const node = cluster.slots[group.slot]?.[0] ?? `unknown:${group.slot}`;
    const list = byNode.get(node);
    if (list === undefined) byNode.set(node, [group]);
    else list.push(group);
  }
  return [...byNode.values()];
}

/** Every master's connection: where SCAN must run to see every key. */
export function masters(client: Redis | Cluster): Redis[] {
  return client.isCluster ? (client as Cluster).nodes('master') : [client as Redis];
}
