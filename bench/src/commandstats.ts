import type { Redis } from 'ioredis';

/** Calls per Redis command name, summed over the masters asked. */
export type CommandCounts = Map<string, number>;

/**
 * Commands the harness itself sends while measuring (INFO, the deletePattern probe's PING), or that only set up
 * and keep connections (handshakes of clients reconnecting or refreshing the Cluster's slot table).
 */
const IGNORED: ReadonlySet<string> = new Set([
  'info',
  'ping',
  'client',
  'cluster',
  'select',
  'command',
  'hello',
  'auth',
]);

/** Reads `INFO commandstats` on every master and sums the calls per command. */
export async function commandStats(masters: readonly Redis[]): Promise<CommandCounts> {
  const counts: CommandCounts = new Map();
  for (const text of await Promise.all(masters.map((master) => master.info('commandstats')))) {
    for (const match of text.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
      const name = match[1]!.replace(/\|/g, ' ');
      if (IGNORED.has(name.split(' ')[0]!)) continue;
      counts.set(name, (counts.get(name) ?? 0) + Number(match[2]));
    }
  }
  return counts;
}

/**
 * Commands per operation between two snapshots: `{ get: 1, pttl: 1 }`. Background traffic (bus heartbeats, about
 * one PUBLISH per second per bus) shows up as small fractions; values under 0.01 per operation are dropped.
 */
export function perOperation(
  before: CommandCounts,
  after: CommandCounts,
  ops: number,
): Record<string, number> {
  const result: Record<string, number> = {};
  for (const [name, calls] of [...after].sort(([a], [b]) => a.localeCompare(b))) {
    const perOp = (calls - (before.get(name) ?? 0)) / ops;
    if (perOp >= 0.01) result[name] = Math.round(perOp * 100) / 100;
  }
  return result;
}

/** Renders `{ get: 1, pttl: 1 }` as `GET 1 · PTTL 1`, or `none` for no command. */
export function formatCommands(perOp: Readonly<Record<string, number>>): string {
  const parts = Object.entries(perOp).map(([name, n]) => `${name.toUpperCase()} ${n}`);
  return parts.length === 0 ? 'none' : parts.join(' · ');
}
