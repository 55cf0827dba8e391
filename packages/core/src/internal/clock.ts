/** Read once: `performance.timeOrigin` is a getter, and this clock is read on every L1 hit. */
const ORIGIN = performance.timeOrigin;
const clock = performance;

/**
 * Epoch milliseconds from the monotonic clock, in whole ms: the wall clock's value when the process started,
 * advanced by elapsed time only, so that a step of the system clock neither keeps an entry longer nor expires one
 * early.
 */
export function monotonicNow(): number {
  return Math.floor(ORIGIN + clock.now());
}
