/**
 * Epoch milliseconds from the monotonic clock, in whole ms: the wall clock's value when the process started,
 * advanced by elapsed time only, so that a step of the system clock neither keeps an entry longer nor expires one
 * early.
 */
export function monotonicNow(): number {
  return Math.floor(performance.timeOrigin + performance.now());
}
