// What "healthy" means for the systemd watchdog: every bus finished a poll cycle recently and
// the event loop is not lagging. A dead adapter still lets cycles run (they fail fast), so an
// unplugged cable does not restart the daemon in a loop; a wedged poll loop or a blocked event
// loop does.
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import { z } from 'zod';
import type { Clock } from '../core/clock.js';
import type { HealthVerdict } from '../core/sd-notify.js';

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
  private histogram: IntervalHistogram | null = null;

  constructor(
    private readonly buses: readonly WatchedBus[],
    options: HealthOptions,
    private readonly clock: Clock,
  ) {
    this.o = healthOptionsSchema.parse(options);
  }

  start(): void {
    if (this.histogram) return;
    const now = this.clock.monotonic();
    for (const b of this.buses) {
      // start-up counts as a cycle: discovery gets the whole grace period
      this.lastCycle.set(b.id, now);
      this.offs.push(b.onCycle(() => this.lastCycle.set(b.id, this.clock.monotonic())));
    }
    this.histogram = monitorEventLoopDelay({ resolution: 20 });
    this.histogram.enable();
  }

  stop(): void {
    for (const off of this.offs.splice(0)) off();
    this.histogram?.disable();
    this.histogram = null;
  }

  /** The verdict since the previous check (the lag window restarts at each call). */
  check(): HealthVerdict {
    const now = this.clock.monotonic();
    for (const b of this.buses) {
      const age = now - (this.lastCycle.get(b.id) ?? now);
      if (age > this.o.maxCycleAgeMs) return { ok: false, reason: `bus ${b.id}: no poll cycle for ${Math.round(age / 1000)} s` };
    }
    const h = this.histogram;
    if (h) {
      const lagMs = h.max / 1e6;
      h.reset();
      if (lagMs > this.o.maxLagMs) return { ok: false, reason: `event loop lagged ${Math.round(lagMs)} ms` };
    }
    return { ok: true };
  }
}
