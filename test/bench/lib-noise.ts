// How noisy the machine is while a benchmark runs, measured by processes of their own so the
// figures do not include the benchmark's own work: a sleeper that asks to wake every 10 ms
// (how late the kernel lets it run: CPU contention from everything else on the machine), and
// a committer that times fsync'd SQLite commits (WAL, synchronous=FULL) on the same disk.
// Reported beside a latency figure, they say how much of its tail the machine put there.
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { ascending, percentile } from './lib-stats.js';

const SLEEPER = `
const xs = [];
const until = Date.now() + Number(process.argv[1]);
const tick = () => {
  const t = performance.now();
  setTimeout(() => {
    xs.push(performance.now() - t - 10);
    if (Date.now() < until) tick(); else process.stdout.write(JSON.stringify(xs), () => process.exit(0));
  }, 10);
};
tick();
// stdout to a pipe is asynchronous: exit only once the whole array is written.
process.on('SIGTERM', () => process.stdout.write(JSON.stringify(xs), () => process.exit(0)));
`;

const COMMITTER = `
const Database = require(process.argv[2]);
const db = new Database(process.argv[1]);
db.pragma('journal_mode = WAL');
db.pragma('synchronous = FULL');
db.exec('CREATE TABLE IF NOT EXISTS t (x INTEGER)');
const ins = db.prepare('INSERT INTO t (x) VALUES (?)');
const xs = [];
for (let i = 0; i < Number(process.argv[3]); i++) { const t = performance.now(); ins.run(i); xs.push(performance.now() - t); }
db.close();
process.stdout.write(JSON.stringify(xs));
`;

function runChild(args: string[]): { done: Promise<number[]>; stop(): void } {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'ignore'] });
  let out = '';
  child.stdout.on('data', (b: Buffer) => (out += b.toString()));
  const done = new Promise<number[]>((resolve) =>
    child.once('exit', () => {
      try {
        const v: unknown = JSON.parse(out);
        resolve(Array.isArray(v) ? v.filter((x): x is number => typeof x === 'number') : []);
      } catch {
        resolve([]);
      }
    }),
  );
  return { done, stop: () => child.kill('SIGTERM') };
}

export interface Noise {
  p50: number;
  p99: number;
  n: number;
}

function summary(xs: number[]): Noise {
  const s = ascending(xs);
  return { p50: percentile(s, 50), p99: percentile(s, 99), n: s.length };
}

/** Starts the sleeper; stop() ends it and gives its wake-up lateness in ms. */
export function startSleeper(maxMs: number): { stop(): Promise<Noise> } {
  const c = runChild(['-e', SLEEPER, String(maxMs)]);
  return {
    stop: async () => {
      c.stop();
      return summary(await c.done);
    },
  };
}

/** `n` fsync'd commits on a scratch file next to the ledger; their duration in ms. */
export async function commitProbe(dbPath: string, n: number): Promise<Noise> {
  const sqlite = createRequire(import.meta.url).resolve('better-sqlite3');
  return summary(await runChild(['-e', COMMITTER, dbPath, sqlite, String(n)]).done);
}
