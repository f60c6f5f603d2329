// The shape every benchmark in test/bench/ returns, so main.ts can print one table and write
// one JSON file. A figure carries its target and the ratio against it; ratios, not absolute
// times, are what hold on a noisy machine.
export interface Figure {
  /** What was measured, e.g. "poll cycle, 32 × LW-485 @ 19200 8E1". */
  label: string;
  value: number;
  /** "ms", "s", "MB", "%", "records/s", "ratio"… */
  unit: string;
  /** The target in words, e.g. "≥ 0.90" or "≤ 50 ms". */
  target?: string;
  /** true/false when the figure has a target; undefined for context figures. */
  pass?: boolean;
}

export interface BenchResult {
  name: string;
  figures: Figure[];
  /** Free-text lines for the report: setup, machine facts, what was changed. */
  notes: string[];
}

export interface BenchOptions {
  /** A short run (CI smoke, development): same code path, smaller counts and durations. */
  quick: boolean;
  /** Per-benchmark parameters from `--set name.key=value` (the key without the name prefix). */
  params: ReadonlyMap<string, string>;
  /** Progress lines for the operator (stderr); the result is printed by main.ts. */
  log: (line: string) => void;
}

export interface BenchModule {
  name: string;
  title: string;
  run(opts: BenchOptions): Promise<BenchResult>;
}
