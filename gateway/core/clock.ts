// Time is injected: tests drive it, and the daemon's wall clock may be untrustworthy (a Pi has
// no RTC) while the monotonic clock never jumps.
import type { Clock } from '../../storage/deps.js';

/** Declared where storage, the lowest layer that takes one, can see it. */
export type { Clock };

export const systemClock: Clock = {
  now: () => Date.now(),
  monotonic: () => performance.now(),
};
