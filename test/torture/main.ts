// `npm run torture`: issue 7's proof that money and records survive crashes, outages, bus faults,
// power cuts and hostile input. Each scenario runs in a process of its own against real parts
// (daemon, SQLite file, Mosquitto, simulated room on ptys/TCP). crash and outage are mostly
// waiting on processes and timers, so by default they run side by side, then the rest one after
// the other; --serial runs all one after the other. Exits 1 on any violation or broken scenario.
//   npm run torture                        the issue's sizes (1 000 kills, 10 min outage, 100 000 fuzz cases per input)
//   npm run torture -- --quick             the size npm test uses
//   npm run torture -- --only fuzz --set fuzz.runs=200000 --seed 42
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { machineLine, parseRunArgs } from '../helpers/run-args.js';
import { spawnOne } from '../helpers/spawn-one.js';
import type { TortureResult } from './types.js';

const GROUPS: string[][] = [['crash', 'outage'], ['seams'], ['bus-faults'], ['power-cut'], ['fuzz']];
const ALL = GROUPS.flat();

const args = parseRunArgs(process.argv.slice(2));
const wanted = args.only ?? ALL;
for (const n of wanted) if (!ALL.includes(n)) throw new Error(`no scenario named ${n}; there are: ${ALL.join(', ')}`);
const seed = args.seed ?? (Date.now() >>> 0);
const groups = (args.serial ? ALL.map((n) => [n]) : GROUPS).map((g) => g.filter((n) => wanted.includes(n))).filter((g) => g.length > 0);

const machine = await machineLine();
const started = new Date();
process.stderr.write(`torture on ${machine}; seed ${seed}${args.quick ? ' (quick)' : ''}\n`);
const results: Array<{ name: string; seconds: number; result?: TortureResult; error?: string }> = [];
for (const group of groups) {
  process.stderr.write(`\n== ${group.join(' + ')}\n`);
  const outcomes = await Promise.all(group.map((name) => spawnOne<TortureResult>('torture', name, { quick: args.quick, params: args.sets.get(name) ?? new Map(), seed })));
  group.forEach((name, i) => {
    const o = outcomes[i];
    if (o === undefined) return;
    results.push(o.ok ? { name, seconds: o.seconds, result: o.result } : { name, seconds: o.seconds, error: o.error });
  });
}

const lines: string[] = [`# torture ${started.toISOString()}${args.quick ? ' (quick)' : ''}, seed ${seed}`, `# ${machine}`];
let violations = 0;
let broken = 0;
for (const r of results) {
  lines.push('', `${r.name} (${r.seconds.toFixed(0)} s)`);
  if (r.result === undefined) {
    broken++;
    lines.push(`  FAILED TO RUN: ${r.error ?? ''}`);
    continue;
  }
  for (const [k, v] of Object.entries(r.result.figures)) lines.push(`  ${k.padEnd(44)} ${String(v)}`);
  for (const n of r.result.notes) lines.push(`  · ${n}`);
  violations += r.result.violations.length;
  if (r.result.violations.length === 0) lines.push('  violations: 0');
  else for (const v of r.result.violations) lines.push(`  VIOLATION: ${v}`);
}
const total = (Date.now() - started.getTime()) / 1000;
lines.push('', `${results.length - broken} of ${results.length} scenarios ran in ${(total / 60).toFixed(1)} min; ${violations} violation(s).${violations + broken > 0 ? ` Replay with --seed ${seed}.` : ''}`);
process.stdout.write(`${lines.join('\n')}\n`);

const out = args.out ?? fileURLToPath(new URL(`../../test-artifacts/torture-${started.toISOString().replace(/[:.]/g, '-')}.json`, import.meta.url));
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, JSON.stringify({ started: started.toISOString(), machine, seed, quick: args.quick, seconds: total, results }, null, 2));
process.stderr.write(`results: ${out}\n`);
process.exit(violations > 0 || broken > 0 ? 1 : 0);
