// The shape every torture scenario in test/torture/ returns. A violation is a broken guarantee
// (money lost, invented or counted twice; a record lost or duplicated; a crash on outside
// input) and fails the run; figures are the counts that docs/reliability.md publishes.
export interface TortureResult {
  name: string;
  /** Each broken guarantee, in words, with enough detail to reproduce (seed, iteration). */
  violations: string[];
  /** Counts and timings: kills, vends, records, cases, seconds… */
  figures: Record<string, number | string>;
  notes: string[];
}

export interface TortureOptions {
  /** The small version that `npm test` runs: same checks, small counts. */
  quick: boolean;
  /** Per-scenario parameters from `--set name.key=value` (the key without the name prefix). */
  params: ReadonlyMap<string, string>;
  /** Seed for everything random in the scenario; printed so a failure can be replayed. */
  seed: number;
  log: (line: string) => void;
}

export interface TortureModule {
  name: string;
  title: string;
  run(opts: TortureOptions): Promise<TortureResult>;
}

/** A numeric parameter: `--set name.key=value`, else the quick or the full default. */
export function numParam(opts: TortureOptions | { quick: boolean; params: ReadonlyMap<string, string> }, key: string, full: number, quick: number): number {
  const raw = opts.params.get(key);
  if (raw !== undefined) {
    const n = Number(raw);
    if (!Number.isFinite(n)) throw new Error(`parameter ${key}=${raw} is not a number`);
    return n;
  }
  return opts.quick ? quick : full;
}
