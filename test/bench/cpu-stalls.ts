// What ran during the event loop's stalls, from a V8 CPU profile (node --cpu-prof
// --cpu-prof-interval 1000 ...): runs of consecutive non-idle samples on one thread longer than
// a threshold, each with the functions it spent its time in (self time) and the project code
// those were called from (the deepest frame of gateway/, storage/, protocols/, simulator/,
// test/ on the stack), so a stall can be told apart as the daemon's or the bench's own. Long
// gaps between samples mean the thread was not running: waiting for a core (the CPU went to
// other processes) or blocked in the kernel (an fsync, a sleep in SQLite's busy handler).
//   [DRAIN_VEND_TRACE=<trace.json>] [STALLS=20] node --import tsx test/bench/cpu-stalls.ts <file.cpuprofile> [minMs=30] [top=6]
import { readFileSync } from 'node:fs';
import { z } from 'zod';

const frameSchema = z.object({ functionName: z.string(), url: z.string(), lineNumber: z.number() });
const profileSchema = z.object({
  nodes: z.array(z.object({ id: z.number(), callFrame: frameSchema, children: z.array(z.number()).optional() })),
  startTime: z.number(),
  endTime: z.number(),
  samples: z.array(z.number()),
  timeDeltas: z.array(z.number()),
});
type Frame = z.infer<typeof frameSchema>;
const pairs = z.array(z.tuple([z.number(), z.number()]));
/** drain-vend's trace: drains [fromUs, toUs], swipes and loop delays [atUs, ms] (µs of process.hrtime). */
export const traceSchema = z.strictObject({ drains: pairs, swipes: pairs, lags: pairs, checkpoints: z.array(z.array(z.number())).optional(), perfNowOffsetUs: z.number().optional(), wallOffsetUs: z.number().optional() });

const IDLE = new Set(['(idle)']);
const PROJECT = /\/(gateway|storage|protocols|simulator|test|cloud)\//;

export interface Stall {
  /** The profile's clock (CLOCK_MONOTONIC, as process.hrtime), in µs. */
  startUs: number;
  startMs: number;
  ms: number;
  /** Of ms, time between samples beyond 3 intervals: the thread was not running (no core free, or blocked in the kernel). */
  unscheduledMs: number;
  self: [string, number][];
  callers: [string, number][];
}

function label(f: Frame): string {
  const file = f.url.replace(/^.*\/(node_modules\/|wt\/[^/]+\/)/, '');
  return `${f.functionName || '(anonymous)'} ${file}${f.url ? `:${f.lineNumber + 1}` : ''}`;
}

export function findStalls(raw: unknown, minMs: number, intervalUs = 1000): Stall[] {
  const p = profileSchema.parse(raw);
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const callerOf = (id: number): string => {
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const f = byId.get(at)?.callFrame;
      if (f && PROJECT.test(f.url) && !f.url.includes('node_modules')) return label(f);
    }
    return '(no project frame)';
  };
  const stalls: Stall[] = [];
  let t = p.startTime;
  let run: { start: number; ids: { id: number; us: number }[] } | null = null;
  const close = (end: number): void => {
    if (run === null) return;
    const ms = (end - run.start) / 1000;
    if (ms >= minMs) {
      const self = new Map<string, number>();
      const callers = new Map<string, number>();
      for (const s of run.ids) {
        const f = byId.get(s.id)?.callFrame;
        const k = f ? label(f) : '?';
        self.set(k, (self.get(k) ?? 0) + s.us / 1000);
        const c = callerOf(s.id);
        callers.set(c, (callers.get(c) ?? 0) + s.us / 1000);
      }
      const top = (m: Map<string, number>): [string, number][] => [...m].sort((a, b) => b[1] - a[1]);
      const unscheduledMs = run.ids.reduce((t, s) => t + Math.max(0, s.us - 3 * intervalUs), 0) / 1000;
      stalls.push({ startUs: run.start, startMs: (run.start - p.startTime) / 1000, ms, unscheduledMs, self: top(self), callers: top(callers) });
    }
    run = null;
  };
  for (let i = 0; i < p.samples.length; i++) {
    const id = p.samples[i] ?? 0;
    const dt = p.timeDeltas[i + 1] ?? 0;
    t += p.timeDeltas[i] ?? 0;
    const name = byId.get(id)?.callFrame.functionName ?? '';
    if (IDLE.has(name)) {
      close(t);
      continue;
    }
    run ??= { start: t, ids: [] };
    run.ids.push({ id, us: dt });
  }
  close(t);
  return stalls;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [file, minArg, topArg] = process.argv.slice(2);
  if (file === undefined) {
    process.stderr.write('usage: cpu-stalls <file.cpuprofile> [minMs=30] [top=6]\n');
    process.exit(2);
  }
  const top = Number(topArg ?? 6);
  // DRAIN_VEND_TRACE (the file drain-vend writes when that variable is set): only stalls during
  // a drain, each with the swipes and loop delays it overlaps.
  const trace = process.env.DRAIN_VEND_TRACE ? traceSchema.parse(JSON.parse(readFileSync(process.env.DRAIN_VEND_TRACE, 'utf8'))) : null;
  const inDrain = (s: Stall): boolean => trace === null || trace.drains.some(([a, b]) => s.startUs < b && s.startUs + s.ms * 1000 > a);
  const stalls = findStalls(JSON.parse(readFileSync(file, 'utf8')), Number(minArg ?? 30)).filter(inDrain);
  // The longest first; then what all of them spent their time in.
  for (const s of [...stalls].sort((a, b) => b.ms - a.ms).slice(0, Number(process.env.STALLS ?? 20))) {
    const end = s.startUs + s.ms * 1000;
    const swipes = trace?.swipes.filter(([at, ms]) => at < end && at + ms * 1000 > s.startUs).map(([, ms]) => ms.toFixed(0)) ?? [];
    const lags = trace?.lags.filter(([at, ms]) => at > s.startUs && at - ms * 1000 < end).map(([, ms]) => ms.toFixed(0)) ?? [];
    process.stdout.write(`\nat ${(s.startMs / 1000).toFixed(2)} s: ${s.ms.toFixed(1)} ms busy (${s.unscheduledMs.toFixed(1)} ms of it not scheduled); swipes over it: [${swipes.join(', ')}] ms; loop late: [${lags.join(', ')}] ms\n  self:\n`);
    for (const [k, ms] of s.self.slice(0, top)) process.stdout.write(`    ${ms.toFixed(1).padStart(7)} ms  ${k}\n`);
    process.stdout.write('  called from:\n');
    for (const [k, ms] of s.callers.slice(0, top)) process.stdout.write(`    ${ms.toFixed(1).padStart(7)} ms  ${k}\n`);
  }
  const all = new Map<string, number>();
  for (const s of stalls) for (const [k, ms] of s.self) all.set(k, (all.get(k) ?? 0) + ms);
  process.stdout.write(`\n${stalls.length} runs of ≥ ${minArg ?? 30} ms, ${stalls.reduce((t, s) => t + s.ms, 0).toFixed(0)} ms in all; their self time:\n`);
  for (const [k, ms] of [...all].sort((a, b) => b[1] - a[1]).slice(0, 15)) process.stdout.write(`  ${ms.toFixed(1).padStart(8)} ms  ${k}\n`);
  process.stdout.write(`  ${stalls.reduce((t, s) => t + s.unscheduledMs, 0).toFixed(1).padStart(8)} ms  of those, the thread not scheduled\n`);
}
