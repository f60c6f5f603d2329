// `npm run bench`: the performance figures of issue 8, each beside its target. Every benchmark
// runs in a process of its own, one after the other (never side by side: they measure time and
// CPU). Prints a table, writes the JSON to test-artifacts/bench-<time>.json (or --out), and
// exits 0 unless a benchmark broke, or --strict and a figure missed its target.
//   npm run bench                         everything at the issue's sizes
//   npm run bench -- --quick              the short version (a minute or two)
//   npm run bench -- --only swipe,drain   some of them
//   npm run bench -- --set drain.records=20000
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { machineLine, parseRunArgs } from '../helpers/run-args.js';
import { spawnOne } from '../helpers/spawn-one.js';
import type { BenchResult } from './types.js';

/** In the order of issue 8's list, with issue 19's secure tap beside the swipe, then issue 16's and issue 13's floods and issue 13's audit verify on a year's ledger. */
const ALL = ['poll-cycle', 'swipe', 'secure-tap', 'drain', 'footprint', 'startup', 'offline', 'sd-writes', 'drain-vend', 'flood', 'ledger-verify'];

const args = parseRunArgs(process.argv.slice(2));
const names = args.only ?? ALL;
for (const n of names) if (!ALL.includes(n)) throw new Error(`no benchmark named ${n}; there are: ${ALL.join(', ')}`);

const machine = await machineLine();
process.stderr.write(`bench on ${machine}${args.quick ? ' (quick)' : ''}\n`);
const started = new Date();
const results: Array<{ name: string; seconds: number; result?: BenchResult; error?: string }> = [];
for (const name of names) {
  process.stderr.write(`\n== ${name}\n`);
  const o = await spawnOne<BenchResult>('bench', name, { quick: args.quick, params: args.sets.get(name) ?? new Map(), seed: 1 });
  results.push(o.ok ? { name, seconds: o.seconds, result: o.result } : { name, seconds: o.seconds, error: o.error });
  if (!o.ok) process.stderr.write(`!! ${name} failed: ${o.error}\n`);
}

const fmt = (v: number): string => (Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 10 ? v.toFixed(1) : v.toFixed(3).replace(/0+$/, '').replace(/\.$/, ''));
const lines: string[] = [`# bench ${started.toISOString()}${args.quick ? ' (quick)' : ''}`, `# ${machine}`];
let misses = 0;
let broken = 0;
for (const r of results) {
  lines.push('', `${r.name} (${r.seconds.toFixed(0)} s)`);
  if (r.result === undefined) {
    broken++;
    lines.push(`  FAILED: ${(r.error ?? '').split('\n')[0] ?? ''}`);
    continue;
  }
  for (const f of r.result.figures) {
    const verdict = f.pass === undefined ? '' : f.pass ? '  ok' : '  MISS';
    if (f.pass === false) misses++;
    lines.push(`  ${f.label.padEnd(58)} ${fmt(f.value).padStart(10)} ${f.unit.padEnd(10)}${f.target ? ` target ${f.target}` : ''}${verdict}`);
  }
  for (const n of r.result.notes) lines.push(`  · ${n}`);
}
lines.push('', `${results.length - broken} of ${results.length} benchmarks ran; ${misses} figure(s) missed their target.`);
process.stdout.write(`${lines.join('\n')}\n`);

const out = args.out ?? fileURLToPath(new URL(`../../test-artifacts/bench-${started.toISOString().replace(/[:.]/g, '-')}.json`, import.meta.url));
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, JSON.stringify({ started: started.toISOString(), machine, quick: args.quick, results }, null, 2));
process.stderr.write(`results: ${out}\n`);
process.exit(broken > 0 || (args.strict && misses > 0) ? 1 : 0);
