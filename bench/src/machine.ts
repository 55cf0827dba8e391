import { readFileSync } from 'node:fs';

/** CPU time in clock ticks: the whole machine's busy time, and this process's with its reaped children's. */
interface CpuTicks {
  readonly machineBusy: number;
  readonly ours: number;
  readonly at: number;
}

/** Linux's USER_HZ, the unit of /proc/stat and /proc/self/stat. */
const TICKS_PER_SECOND = 100;

/** utime + stime of process `pid`, in ticks; 0 once it is gone (its time then counts in its parent's cutime). */
function processTicks(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat
      .slice(stat.lastIndexOf(')') + 2)
      .split(' ')
      .map(Number);
    return (fields[11] ?? 0) + (fields[12] ?? 0);
  } catch {
    return 0;
  }
}

/**
 * Reads the CPU tick counters, or undefined where /proc is not Linux's. `children` are this run's live child
 * processes (the Redis servers): their time is ours, but reaches our own counters only when they are reaped.
 */
export function cpuTicks(children: readonly number[] = []): CpuTicks | undefined {
  try {
    const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = cpu;
    // The command name (field 2) may hold spaces; the fields after its closing parenthesis are fixed.
    const own = readFileSync('/proc/self/stat', 'utf8');
    const fields = own
      .slice(own.lastIndexOf(')') + 2)
      .split(' ')
      .map(Number);
    // utime, stime, cutime, cstime are fields 14-17, i.e. 11-14 after the command name and state.
    const reaped = (fields[11] ?? 0) + (fields[12] ?? 0) + (fields[13] ?? 0) + (fields[14] ?? 0);
    const ours = children.reduce((sum, pid) => sum + processTicks(pid), reaped);
    return { machineBusy: user + nice + system + irq + softirq + steal, ours, at: performance.now() };
  } catch {
    return undefined;
  }
}

/**
 * How many cores processes other than this run kept busy on average between `start` and now; `children` as for
 * {@link cpuTicks}, the same list as at the start.
 */
export function otherCores(
  start: CpuTicks | undefined,
  children: readonly number[] = [],
): number | undefined {
  const end = cpuTicks(children);
  if (start === undefined || end === undefined) return undefined;
  const seconds = (end.at - start.at) / 1000;
  const other = end.machineBusy - start.machineBusy - (end.ours - start.ours);
  return Math.max(0, other / TICKS_PER_SECOND / seconds);
}
