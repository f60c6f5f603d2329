// What "healthy" means for the systemd watchdog: every bus finished a poll cycle recently and
// the event loop is not lagging. A dead adapter still lets cycles run (they fail fast), so an
// unplugged cable does not restart the daemon in a loop; a wedged poll loop or a blocked event
// loop does.
import { z } from 'zod';
import type { Clock } from '../core/clock.js';
import type { HealthVerdict } from '../core/sd-notify.js';

/**
 * The lag sampler's period: a stall of B ms shows as at least B − SAMPLE_MS of lateness, so a
 * stall longer than maxLagMs + SAMPLE_MS (2.25 s by default) is always seen. 4 wake-ups a second
 * on an otherwise idle loop, not 10: the watchdog looks for a wedged loop, not a 100 ms hiccup.
 */
const SAMPLE_MS = 250;

export interface WatchedBus {
  id: string;
  /** Registers a listener for completed poll cycles; returns its removal. */
  onCycle(listener: () => void): () => void;
}

export const healthOptionsSchema = z.strictObject({
  /** A bus with no completed cycle for this long is unhealthy. */
  maxCycleAgeMs: z.int().min(100).max(3_600_000),
  /** Largest event loop delay tolerated between two checks. */
  maxLagMs: z.int().min(10).max(600_000).default(2000),
});
export type HealthOptions = z.input<typeof healthOptionsSchema>;

export class HealthMonitor {
  private readonly o: z.output<typeof healthOptionsSchema>;
  private readonly lastCycle = new Map<string, number>();
  private readonly offs: Array<() => void> = [];
  private sampler: NodeJS.Timeout | null = null;
  private lastSample = 0;
  /** Largest lateness of the sampling timer since the previous check. */
  private maxLagMs = 0;

  constructor(
    private readonly buses: readonly WatchedBus[],
    options: HealthOptions,
    private readonly clock: Clock,
  ) {
    this.o = healthOptionsSchema.parse(options);
  }

  start(): void {
    if (this.sampler) return;
    const now = this.clock.monotonic();
    for (const b of this.buses) {
      // start-up counts as a cycle: discovery gets the whole grace period
      this.lastCycle.set(b.id, now);
      this.offs.push(b.onCycle(() => this.lastCycle.set(b.id, this.clock.monotonic())));
    }
    // Our own timer rather than perf_hooks' delay histogram: resetting that one between checks
    // drops the sample that spans a stall, which is the one that matters.
    this.lastSample = now;
    this.sampler = setInterval(() => {
      const t = this.clock.monotonic();
      this.maxLagMs = Math.max(this.maxLagMs, t - this.lastSample - SAMPLE_MS);
      this.lastSample = t;
    }, SAMPLE_MS);
    this.sampler.unref();
  }

  stop(): void {
    for (const off of this.offs.splice(0)) off();
    if (this.sampler) clearInterval(this.sampler);
    this.sampler = null;
  }

  /** The verdict since the previous check (the lag window restarts at each call). */
  check(): HealthVerdict {
    const now = this.clock.monotonic();
    for (const b of this.buses) {
      const age = now - (this.lastCycle.get(b.id) ?? now);
      if (age > this.o.maxCycleAgeMs) return { ok: false, reason: `bus ${b.id}: no poll cycle for ${Math.round(age / 1000)} s` };
    }
    const lagMs = this.maxLagMs;
    this.maxLagMs = 0;
    if (lagMs > this.o.maxLagMs) return { ok: false, reason: `event loop lagged ${Math.round(lagMs)} ms` };
    return { ok: true };
  }
}
