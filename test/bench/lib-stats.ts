// Small arithmetic the benchmarks share: percentiles, medians, parameters, rounding, load.
import { cpus, loadavg } from 'node:os';
import type { BenchOptions } from './types.js';

/** Nearest-rank percentile of an ascending array; NaN when empty. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? NaN;
}

export function ascending(xs: readonly number[]): number[] {
  return [...xs].sort((a, b) => a - b);
}

export function median(xs: readonly number[]): number {
  return percentile(ascending(xs), 50);
}

/** `--set <bench>.<key>=v`, else the quick or the full default. */
export function numParam(opts: Pick<BenchOptions, 'quick' | 'params'>, key: string, full: number, quick: number): number {
  const raw = opts.params.get(key);
  if (raw === undefined) return opts.quick ? quick : full;
  const n = Number(raw);
  if (!Number.isFinite(n)) throw new Error(`parameter ${key}=${raw} is not a number`);
  return n;
}

export function round(x: number, digits = 3): number {
  return Number(x.toFixed(digits));
}

/** Absolute times depend on who else runs: every result says how busy the machine was. */
export function loadNote(): string {
  return `machine: ${cpus().length} cores, load average ${loadavg().map((x) => x.toFixed(2)).join(' / ')} (1/5/15 min) at the end`;
}
