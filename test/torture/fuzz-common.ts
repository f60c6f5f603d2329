// What the fuzz inputs share: a tally of verdicts per input, and a runner that gives each
// fast-check property its share of the cases, a seed derived from the run's seed and the
// property's id (so one property replays alone), and turns a counterexample into a violation
// line that says how to replay it.
import fc from 'fast-check';

export interface FuzzEnv {
  /** Cases for this input, spread over its properties by their weights. */
  runs: number;
  /** The torture run's seed; each property derives its own from it and its id. */
  seed: number;
  /** Only properties whose id starts with this (a replay). */
  only?: string;
  /** fast-check's counterexample path, with `only` naming one property: replays just that case. */
  path?: string;
  log: (line: string) => void;
}

/** Verdicts of one input: every case ends accepted or rejected with a reason. */
export class Tally {
  cases = 0;
  accepted = 0;
  readonly rejected = new Map<string, number>();

  accept(n = 1): void {
    this.cases += n;
    this.accepted += n;
  }

  reject(reason: string, n = 1): void {
    if (reason.length === 0) throw new Error('a rejection without a reason');
    this.cases += n;
    this.rejected.set(reason, (this.rejected.get(reason) ?? 0) + n);
  }

  get rejectedTotal(): number {
    let n = 0;
    for (const v of this.rejected.values()) n += v;
    return n;
  }

  reasons(): string {
    return [...this.rejected.entries()]
      .sort((a, b) => b[1] - a[1])
      .map(([k, v]) => `${k}=${v}`)
      .join(', ');
  }
}

export interface FuzzProperty {
  /** `<input>.<name>`: what `--set fuzz.only=` matches. */
  id: string;
  weight: number;
  property(runs: number): fc.IRawProperty<unknown, boolean>;
}

export interface InputReport {
  input: string;
  title: string;
  /** Cases the properties ran (fast-check runs, shrinking not counted). */
  runs: number;
  seconds: number;
  tally: Tally;
  /** Extra per-input figures (events of a byte stream, states decoded…). */
  extra: Record<string, number | string>;
  violations: string[];
}

export class Violation extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'Violation';
  }
}

/** Throws a Violation (fails the property) unless `cond`. */
export function must(cond: boolean, message: string | (() => string)): asserts cond {
  if (!cond) throw new Violation(typeof message === 'string' ? message : message());
}

/** A short, bounded description of a thrown value, for a violation line. */
export function describeError(e: unknown): string {
  if (e instanceof Violation) return e.message;
  if (e instanceof Error) return `${e.name}: ${e.message}${e.stack ? ` @ ${e.stack.split('\n').slice(1, 3).join(' ').trim()}` : ''}`;
  return String(e);
}

function hashId(id: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

export function propertySeed(runSeed: number, id: string): number {
  return (runSeed ^ hashId(id)) | 0;
}

/** Runs the properties of one input, each with its share of env.runs; collects counterexamples. */
export async function runProperties(env: FuzzEnv, props: readonly FuzzProperty[]): Promise<{ runs: number; violations: string[] }> {
  const chosen = props.filter((p) => env.only === undefined || p.id.startsWith(env.only));
  const total = chosen.reduce((n, p) => n + p.weight, 0);
  const violations: string[] = [];
  let runs = 0;
  for (const p of chosen) {
    const numRuns = Math.max(1, Math.ceil((env.runs * p.weight) / total));
    const seed = propertySeed(env.seed, p.id);
    const params: fc.Parameters<unknown> = { numRuns, seed, endOnFailure: false, maxSkipsPerRun: 1000 };
    if (env.path !== undefined && env.only !== undefined) params.path = env.path;
    const t0 = performance.now();
    const d = await fc.check(p.property(numRuns), params);
    runs += d.numRuns;
    env.log(`${p.id}: ${d.numRuns} cases in ${((performance.now() - t0) / 1000).toFixed(1)} s${d.failed ? ' — FAILED' : ''}`);
    if (d.failed) {
      const ce = d.counterexample === null ? '(none)' : fc.stringify(d.counterexample);
      violations.push(
        `${p.id}: ${describeError(d.errorInstance)}; counterexample ${ce.length > 600 ? `${ce.slice(0, 600)}…` : ce}; ` +
          `replay: --seed ${env.seed} --set fuzz.only=${p.id} --set fuzz.path=${d.counterexamplePath ?? ''} (fast-check seed ${seed})`,
      );
    }
  }
  return { runs, violations };
}

/** Splits `data` at the given cut points, as reads from a port or a socket do. */
export function splitAt(data: Uint8Array, cuts: readonly number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => (data.length === 0 ? 0 : c % (data.length + 1))))].sort((a, b) => a - b);
  const parts: Uint8Array[] = [];
  let prev = 0;
  for (const p of [...points, data.length]) {
    if (p > prev) parts.push(data.subarray(prev, p));
    prev = Math.max(prev, p);
  }
  return parts;
}
