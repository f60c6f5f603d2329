// Per-unit counters and latency, kept by the bus master and read by the status page and,
// later, a Prometheus exporter (hence the cumulative histogram with fixed bucket bounds).
import type { UnitStats } from './types.js';

export interface LatencyHistogram {
  /** Upper bounds in ms, ascending; the implicit last bucket is +Inf. */
  boundsMs: readonly number[];
  /** Cumulative counts, one per bound, then the +Inf count (= all samples). */
  cumulative: number[];
  sumMs: number;
}

/** UnitStats plus what the contract type does not carry yet. */
export interface BusUnitStats extends UnitStats {
  /** Requests answered 'breaker-open' without touching the wire. */
  breakerRejected: number;
  /** Requests answered 'port-down'. */
  portDown: number;
  histogram: LatencyHistogram;
}

export interface BusStats {
  busId: string;
  portUp: boolean;
  queueLength: number;
  /** Bytes that arrived while no request was waiting, dropped. */
  unsolicitedBytes: number;
  /** Bytes dropped while waiting for the line to go quiet after a timeout or bad frame. */
  drainedBytes: number;
  /** MBAP replies to transactions already given up on, dropped. */
  staleFrames: number;
  units: BusUnitStats[];
}

export const DEFAULT_LATENCY_BUCKETS_MS = [5, 10, 20, 50, 100, 200, 500, 1000] as const;

export class UnitStatsTracker {
  requests = 0;
  ok = 0;
  timeouts = 0;
  badFrames = 0;
  exceptions = 0;
  breakerRejected = 0;
  portDown = 0;
  lastOkAt: number | null = null;
  private last: number | null = null;
  private max: number | null = null;
  private sum = 0;
  private samples = 0;
  private readonly buckets: number[];

  constructor(
    readonly unit: number,
    private readonly boundsMs: readonly number[],
  ) {
    this.buckets = new Array<number>(boundsMs.length + 1).fill(0);
  }

  /** An answer came (a normal reply or a Modbus exception). */
  answered(latencyMs: number, exception: boolean, wallNow: number): void {
    if (exception) this.exceptions += 1;
    else this.ok += 1;
    this.lastOkAt = wallNow;
    this.last = latencyMs;
    this.max = this.max === null ? latencyMs : Math.max(this.max, latencyMs);
    this.sum += latencyMs;
    this.samples += 1;
    let i = this.boundsMs.findIndex((b) => latencyMs <= b);
    if (i < 0) i = this.boundsMs.length;
    this.buckets[i] = (this.buckets[i] ?? 0) + 1;
  }

  snapshot(breaker: UnitStats['breaker'], consecutiveFailures: number): BusUnitStats {
    let running = 0;
    const cumulative = this.buckets.map((n) => (running += n));
    return {
      unit: this.unit,
      requests: this.requests,
      ok: this.ok,
      timeouts: this.timeouts,
      badFrames: this.badFrames,
      exceptions: this.exceptions,
      latencyMs: { last: this.last, avg: this.samples === 0 ? null : this.sum / this.samples, max: this.max },
      breaker,
      consecutiveFailures,
      lastOkAt: this.lastOkAt,
      breakerRejected: this.breakerRejected,
      portDown: this.portDown,
      histogram: { boundsMs: this.boundsMs, cumulative, sumMs: this.sum },
    };
  }
}
