/**
 * Summarises a V8 `.cpuprofile` (from `node --cpu-prof`), or an allocation profile from `profile.ts --alloc=FILE`:
 * the functions with the most self time (or allocated bytes), and the same per file or package.
 * `node --import tsx src/profile-summary.ts FILE [top]`. V8 attributes builtins such as `JSON.parse` to the JS
 * function calling them, so their time shows as that function's self time.
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { functionName: string; url: string };
}

interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

/** A node of a sampling heap profile (`HeapProfiler.stopSampling`). */
interface HeapNode {
  readonly callFrame: { functionName: string; url: string };
  readonly selfSize: number;
  readonly children: readonly HeapNode[];
}

const REPO = fileURLToPath(new URL('../../', import.meta.url));

/** A short place name: the repo-relative source file, the npm package, or the Node internal. */
function place(url: string): string {
  if (url === '') return '(native / VM)';
  const pkg = /node_modules\/(?:\.pnpm\/[^/]+\/node_modules\/)?((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg !== null) return `npm:${pkg[1]}`;
  const path = url.replace(/^file:\/\//, '');
  return path.startsWith(REPO) ? path.slice(REPO.length) : path;
}

/** Rows as `share  amount  name`, largest first; amounts are µs (`ms` shown) or bytes (`MB` shown). */
function table(title: string, totals: Map<string, number>, top: number, unit: 'ms' | 'MB'): string[] {
  const total = [...totals.values()].reduce((sum, amount) => sum + amount, 0);
  const scale = unit === 'ms' ? 1_000 : 1_000_000;
  const rows = [...totals].sort((a, b) => b[1] - a[1]).slice(0, top);
  return [
    title,
    ...rows.map(([name, amount]) => {
      const share = `${((amount / total) * 100).toFixed(1)}%`.padStart(6);
      return `${share}  ${(amount / scale).toFixed(unit === 'ms' ? 0 : 1).padStart(7)} ${unit}  ${name}`;
    }),
  ];
}

function add(totals: Map<string, number>, key: string, amount: number): void {
  totals.set(key, (totals.get(key) ?? 0) + amount);
}

/** Self time per function and per place; idle time is left out. */
function summariseCpu(file: string, profile: CpuProfile, top: number): string[] {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const byFunction = new Map<string, number>();
  const byPlace = new Map<string, number>();
  let total = 0;
  for (const [i, id] of profile.samples.entries()) {
    const node = byId.get(id);
    const delta = profile.timeDeltas[i] ?? 0;
    if (node === undefined || node.callFrame.functionName === '(idle)') continue;
    total += delta;
    const where = place(node.callFrame.url);
    // Line numbers are the transpiled code's (tsx), not the source's: the file names the place well enough.
    add(byFunction, `${node.callFrame.functionName || '(anonymous)'}  ${where}`, delta);
    add(byPlace, where, delta);
  }
  return [
    `${file}: ${(total / 1000).toFixed(0)} ms of non-idle samples`,
    ...table('self time by function:', byFunction, top, 'ms'),
    ...table('self time by file / package:', byPlace, 15, 'ms'),
  ];
}

/** Allocated bytes per function and per place (sampled, collected objects included). */
function summariseAllocations(file: string, head: HeapNode, top: number): string[] {
  const byFunction = new Map<string, number>();
  const byPlace = new Map<string, number>();
  const walk = (node: HeapNode): void => {
    const where = place(node.callFrame.url);
    add(byFunction, `${node.callFrame.functionName || '(anonymous)'}  ${where}`, node.selfSize);
    add(byPlace, where, node.selfSize);
    for (const child of node.children) walk(child);
  };
  walk(head);
  const total = [...byPlace.values()].reduce((sum, amount) => sum + amount, 0);
  return [
    `${file}: ${(total / 1e6).toFixed(1)} MB allocated (sampled)`,
    ...table('allocation by function:', byFunction, top, 'MB'),
    ...table('allocation by file / package:', byPlace, 15, 'MB'),
  ];
}

async function main(): Promise<void> {
  const file = process.argv[2];
  const top = Number(process.argv[3] ?? 25);
  if (file === undefined) throw new Error('usage: profile-summary.ts FILE [top]');
  const parsed = JSON.parse(await readFile(file, 'utf8')) as CpuProfile | { head: HeapNode };
  const lines =
    'head' in parsed ? summariseAllocations(file, parsed.head, top) : summariseCpu(file, parsed, top);
  process.stdout.write(`${lines.join('\n')}\n`);
}

await main();
