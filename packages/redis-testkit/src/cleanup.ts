import type { ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';

/** Server processes alive right now, for the exit hook to kill. */
export const liveChildren: Set<ChildProcess> = new Set();
/** Temp dirs of servers not stopped yet, for the exit hook to remove. */
export const ownedDirs: Set<string> = new Set();
let exitHookInstalled = false;

/** Last resort for servers nobody stopped: `exit` handlers may only do synchronous work, which SIGKILL is. */
export function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', killEverythingNow);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      killEverythingNow();
      // Alone on this signal, our listener replaced Node's default (exit): restore and re-raise it.
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    });
  }
}

function killEverythingNow(): void {
  for (const child of liveChildren) child.kill('SIGKILL');
  liveChildren.clear();
  for (const dir of ownedDirs) rmSync(dir, { recursive: true, force: true });
  ownedDirs.clear();
}
