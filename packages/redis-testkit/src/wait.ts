/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Polls `check` until it reports no problem (returns undefined), or throws after `timeoutMs` with the last problem,
 * so that a fixture that never converges says what it was still waiting for.
 */
export async function waitUntil(
  what: string,
  check: () => Promise<string | undefined>,
  timeoutMs: number,
  intervalMs = 50,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let problem: string | undefined;
    try {
      problem = await check();
    } catch (error) {
      problem = error instanceof Error ? error.message : String(error);
    }
    if (problem === undefined) return;
    if (Date.now() >= deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}: ${problem}`);
    await sleep(intervalMs);
  }
}
