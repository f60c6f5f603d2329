// Issue 8, item 2: swipe to credit frame. From the card reader's line written on its serial port
// (a socat pty) to the LW-485 CREDIT frame reaching the bus, through the whole daemon: reader
// framing, the vend engine's admission, pricing and risk, the ledger's hold and credit evidence
// (two fsync'd transactions on a real file at synchronous=FULL) and the bus master. Many
// machines are swiped side by side, each when idle again. See lib-vend.ts for the rig.
import { commitProbe, startSleeper } from './lib-noise.js';
import { ascending, loadNote, numParam, percentile, round } from './lib-stats.js';
import { artifactsDir, startVendRig, type SwipeRun } from './lib-vend.js';
import type { BenchModule, BenchOptions, BenchResult, Figure } from './types.js';

export function otherText(m: ReadonlyMap<string, number>): string {
  return m.size === 0 ? 'none' : [...m].map(([k, n]) => `${k} × ${n}`).join(', ');
}

/** p50, p99, max of one run, as figures; p99 carries the target. */
export function latencyFigures(what: string, r: SwipeRun): { figures: Figure[]; p50: number; p99: number } {
  const s = ascending(r.samples);
  const p50 = percentile(s, 50);
  const p99 = percentile(s, 99);
  return {
    p50,
    p99,
    figures: [
      { label: `${what} p50 (${s.length} vends)`, value: round(p50, 1), unit: 'ms' },
      { label: `${what} p99 (${s.length} vends)`, value: round(p99, 1), unit: 'ms', target: '≤ 50 ms', pass: p99 <= 50 },
      { label: `${what} max`, value: round(s[s.length - 1] ?? NaN, 1), unit: 'ms' },
    ],
  };
}

async function run(opts: BenchOptions): Promise<BenchResult> {
  const vends = numParam(opts, 'vends', 1000, 100);
  const machines = numParam(opts, 'machines', 24, 24);
  const gapMs = numParam(opts, 'gapMs', 5500, 5500);
  const maxSeconds = numParam(opts, 'maxSeconds', 900, 90);
  const tmp = artifactsDir('bench-swipe-');
  try {
    const rig = await startVendRig({ dbPath: `${tmp.dir}/ledger.db`, machines, gapMs });
    try {
      const commits = await commitProbe(`${tmp.dir}/probe.db`, 300);
      opts.log(`swipe: ${vends} swipes, one customer at a time, over ${machines} machines`);
      const sleeper = startSleeper(maxSeconds * 1000);
      const r = await rig.swipes(vends, maxSeconds, 1);
      const late = await sleeper.stop();
      const { figures, p50, p99 } = latencyFigures('swipe → CREDIT frame', r);
      opts.log(`swipe: ${r.samples.length} captured in ${r.seconds.toFixed(1)} s; p50 ${p50.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms`);
      // The machine's own noise, measured by other processes: what part of the tail is not ours.
      figures.push(
        { label: 'reference: one fsync\'d SQLite commit on the same disk, p50', value: round(commits.p50, 1), unit: 'ms' },
        { label: 'reference: one fsync\'d SQLite commit on the same disk, p99', value: round(commits.p99, 1), unit: 'ms' },
        { label: `reference: an idle process woken every 10 ms runs late by, p99 (${late.n} wakes)`, value: round(late.p99, 1), unit: 'ms' },
      );
      if (r.samples.length < vends) figures.push({ label: 'vends measured of those asked', value: r.samples.length / vends, unit: 'ratio', target: '= 1', pass: false });
      // A rush: every machine swiped as soon as it may be, vends overlapping (context, no target).
      const rushVends = numParam(opts, 'rushVends', 300, 30);
      const rush = rushVends > 0 ? await rig.swipes(rushVends, maxSeconds, machines) : null;
      if (rush !== null) {
        const q = ascending(rush.samples);
        const rate = rush.samples.length / rush.seconds;
        opts.log(`swipe: rush ${rush.samples.length} captured at ${rate.toFixed(1)}/s; p50 ${percentile(q, 50).toFixed(1)} ms, p99 ${percentile(q, 99).toFixed(1)} ms`);
        figures.push(
          { label: `rush of ${machines} machines at ${rate.toFixed(1)} vends/s: p50 (${q.length} vends)`, value: round(percentile(q, 50), 1), unit: 'ms' },
          { label: `rush of ${machines} machines at ${rate.toFixed(1)} vends/s: p99`, value: round(percentile(q, 99), 1), unit: 'ms' },
        );
      }
      return {
        name: 'swipe',
        figures,
        notes: [
          `ledger on the repository disk (ext4), WAL, synchronous=FULL; ${machines} LW-485 machines, one type L reader each on a socat pty; one swipe at a time (the next when the last vend is captured, plus 0-20 ms), on the next machine that is idle and ≥ ${gapMs} ms past its last vend (the engine re-reads a machine it vended on < 5 s ago)`,
          `bus: RTU over loopback TCP to the simulator (timeScale 20000, so a cycle lasts ~0.1 s), poll interval 100 ms; the stamp is where the simulator receives the frame`,
          `swipes not captured (retried): ${otherText(r.other)}; run took ${r.seconds.toFixed(1)} s`,
          `two fsync'd transactions (the hold, then the credit evidence) come before the CREDIT frame by design; the references are measured by separate processes (300 commits before the run; a sleeper during it)`,
          loadNote(),
        ],
      };
    } finally {
      await rig.close();
    }
  } finally {
    tmp.cleanup();
  }
}

const bench: BenchModule = { name: 'swipe', title: 'Card swipe to CREDIT frame on the bus', run };
export default bench;
