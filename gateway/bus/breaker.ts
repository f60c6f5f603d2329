// Per-unit circuit breaker. A washer that has lost power would otherwise cost every poll cycle a
// full reply timeout plus a drain; behind an open breaker its requests are answered at once
// without touching the wire, and the line stays free for the machines that do answer.
// Pure: no timers, time comes from the injected clock, so the tests drive it by hand.
import type { Clock } from '../core/clock.js';

export type BreakerState = 'closed' | 'open' | 'half-open';

export interface BreakerOptions {
  /** Consecutive failed exchanges (timeout, bad frame) that open the breaker. */
  failureThreshold: number;
  /** Wait before the first probe after opening. */
  probeInitialMs: number;
  /** The wait doubles after each failed probe, up to this. */
  probeMaxMs: number;
}

export type BreakerTransition =
  | { to: 'open'; consecutiveFailures: number; retryInMs: number }
  | { to: 'closed'; wasOpenForMs: number };

export class CircuitBreaker {
  private failures = 0;
  /** Failed probes since the breaker opened; sets the backoff exponent. */
  private failedProbes = 0;
  private openedAt: number | null = null;
  private nextProbeAt = 0;

  constructor(
    private readonly opts: BreakerOptions,
    private readonly clock: Pick<Clock, 'monotonic'>,
  ) {}

  get consecutiveFailures(): number {
    return this.failures;
  }

  state(): BreakerState {
    if (this.openedAt === null) return 'closed';
    return this.clock.monotonic() >= this.nextProbeAt ? 'half-open' : 'open';
  }

  /** Milliseconds until the next probe may go out; 0 when a request may go now. */
  retryInMs(): number {
    if (this.openedAt === null) return 0;
    return Math.max(0, this.nextProbeAt - this.clock.monotonic());
  }

  /**
   * May a request to this unit go on the wire now? In half-open the request that is let through
   * is the probe; the bus has one request in flight, so its outcome is known before the next ask.
   */
  allow(): boolean {
    return this.state() !== 'open';
  }

  /** The unit answered (a Modbus exception counts: the device is alive and talking). */
  onSuccess(): BreakerTransition | null {
    this.failures = 0;
    if (this.openedAt === null) return null;
    const wasOpenForMs = this.clock.monotonic() - this.openedAt;
    this.openedAt = null;
    this.failedProbes = 0;
    return { to: 'closed', wasOpenForMs };
  }

  /** No valid answer (timeout or bad frame). Port-down is not the unit's fault and is not counted. */
  onFailure(): BreakerTransition | null {
    this.failures += 1;
    const now = this.clock.monotonic();
    if (this.openedAt !== null) {
      // a failed probe: stay open, wait longer
      this.failedProbes += 1;
      this.nextProbeAt = now + this.backoffMs();
      return null;
    }
    if (this.failures < this.opts.failureThreshold) return null;
    this.openedAt = now;
    this.failedProbes = 0;
    const retryInMs = this.backoffMs();
    this.nextProbeAt = now + retryInMs;
    return { to: 'open', consecutiveFailures: this.failures, retryInMs };
  }

  private backoffMs(): number {
    // 2^n overflows to Infinity long after the cap applies; Math.min keeps it finite
    return Math.min(this.opts.probeMaxMs, this.opts.probeInitialMs * 2 ** this.failedProbes);
  }
}
