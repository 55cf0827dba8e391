/**
 * `@strata-cache/core/internal`: building blocks Strata's own packages share. They are not part of the public API
 * and may change in any release.
 */
export { busInUseError } from './bus/bus.js';
export { SequenceTracker } from './bus/sequence-tracker.js';
export { closedError, toUnavailableError } from './errors.js';
export { monotonicNow } from './internal/clock.js';
export { DeadlineSweeper } from './internal/deadline.js';
export { TickBatcher } from './internal/tick-batcher.js';
export { assertOptionNames, positiveIntegerOption } from './options.js';
export { cloneJson } from './value-reader.js';
