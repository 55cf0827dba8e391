import { performance } from 'node:perf_hooks';
import { inspect } from 'node:util';

/** Colors only on a terminal, and never with `NO_COLOR` set (https://no-color.org). */
const COLOR = process.stdout.isTTY === true && (process.env.NO_COLOR ?? '') === '';

function paint(code: number): (text: string) => string {
  return (text) => (COLOR ? `\u001b[${code}m${text}\u001b[0m` : text);
}

export const bold: (text: string) => string = paint(1);
export const dim: (text: string) => string = paint(2);
export const green: (text: string) => string = paint(32);
export const yellow: (text: string) => string = paint(33);
export const red: (text: string) => string = paint(31);
export const cyan: (text: string) => string = paint(36);

/** Writes one line to stdout. */
export function say(line = ''): void {
  process.stdout.write(`${line}\n`);
}

/** A heading for one part of the demo. */
export function heading(text: string): void {
  say();
  say(bold(text));
  say(dim('─'.repeat(Math.min(text.length, 100))));
}

/** A line spoken by an instance: `A  set  user:42 …`. */
export function act(who: string, text: string): void {
  say(`  ${bold(who.padEnd(6))} ${text}`);
}

/** A check the demo makes; a failed one makes the demo exit 1 (the demo's test relies on it). */
export class Checks {
  #failed = 0;

  expect(ok: boolean, what: string): void {
    if (ok) say(`  ${green('✔')} ${what}`);
    else {
      this.#failed++;
      say(`  ${red('✘')} ${what}`);
    }
  }

  get failed(): number {
    return this.#failed;
  }
}

/**
 * Runs a long step, printing `label …` before and how long it took after. On a terminal the line is completed in
 * place; elsewhere (a log, a test) it is two plain lines.
 */
export async function step<T>(label: string, run: () => Promise<T>): Promise<T> {
  const started = performance.now();
  if (process.stdout.isTTY) process.stdout.write(`  ${label} …`);
  else say(`  ${label} …`);
  const result = await run();
  const took = `${Math.round(performance.now() - started)} ms`;
  if (process.stdout.isTTY) say(` ${green('done')} ${dim(`(${took})`)}`);
  else say(`  ${label}: done (${took})`);
  return result;
}

/** Reports progress through `total` units: a bar redrawn in place on a terminal, a line per quarter elsewhere. */
export function progress(label: string, total: number): (done: number) => void {
  let lastQuarter = -1;
  return (done) => {
    if (process.stdout.isTTY) {
      const width = 30;
      const filled = Math.round((done / total) * width);
      process.stdout.write(
        `\r  ${label} [${'#'.repeat(filled)}${' '.repeat(width - filled)}] ${done}/${total}`,
      );
      if (done === total) process.stdout.write('\n');
      return;
    }
    const quarter = Math.floor((done / total) * 4);
    if (quarter !== lastQuarter) {
      lastQuarter = quarter;
      say(`  ${label} ${done}/${total}`);
    }
  };
}

/** Prints rows as a left-aligned table with a header. */
export function table(header: readonly string[], rows: ReadonlyArray<readonly string[]>): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('   ');
  say(`    ${dim(line(header))}`);
  for (const row of rows) say(`    ${line(row)}`);
}

/** A value as the demo prints it. */
export function show(value: unknown): string {
  return value === undefined
    ? 'undefined (miss)'
    : inspect(value, { breakLength: Number.POSITIVE_INFINITY, compact: true, depth: 4, colors: COLOR });
}

/** Milliseconds with a sensible number of digits. */
export function ms(value: number): string {
  return value < 10 ? `${value.toFixed(2)} ms` : `${Math.round(value)} ms`;
}
