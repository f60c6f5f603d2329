// Time is injected: tests drive it, and the daemon's wall clock may be untrustworthy (a Pi has
// no RTC) while the monotonic clock never jumps.
export interface Clock {
  /** Wall-clock milliseconds since the epoch, as the system believes. */
  now(): number;
  /** Monotonic milliseconds, for timeouts and intervals. */
  monotonic(): number;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  monotonic: () => performance.now(),
};
