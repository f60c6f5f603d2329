// Figures of a fleet run: percentiles, rates and the table printed beside the targets.
import { loadavg } from 'node:os';

export function pct(xs: readonly number[], p: number): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))] ?? null;
}

export function ms(x: number | null): string {
  return x === null ? '—' : x >= 10_000 ? `${(x / 1000).toFixed(1)} s` : `${Math.round(x)} ms`;
}

export function mb(bytes: number): string {
  return `${Math.round(bytes / (1024 * 1024))} MB`;
}

export function load(): string {
  return loadavg()
    .map((x) => x.toFixed(1))
    .join(' / ');
}

/** The 1-minute load average now: printed beside each figure (the machine is shared). */
export function load1(): string {
  return (loadavg()[0] ?? 0).toFixed(1);
}

export interface Row {
  figure: string;
  measured: string;
  target: string;
  ok: boolean | null;
  /** The 1-minute load average when it was measured. */
  load?: string;
}

export function table(rows: readonly Row[]): string {
  const w0 = Math.max(...rows.map((r) => r.figure.length), 6);
  const w1 = Math.max(...rows.map((r) => r.measured.length), 8);
  const lines = rows.map((r) => `${r.figure.padEnd(w0)}  ${r.measured.padEnd(w1)}  ${(r.load ?? '').padStart(4)}  ${r.target}${r.ok === null ? '' : r.ok ? '  ✓' : '  ✗ MISSED'}`);
  return [`${'figure'.padEnd(w0)}  ${'measured'.padEnd(w1)}  load  target`, ...lines].join('\n');
}
